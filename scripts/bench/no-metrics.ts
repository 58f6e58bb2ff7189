// "Without metrics": every lib/metrics module the request path imports is swapped for a no-op stand-in from
// stubs/metrics/, so neither prom-client nor the pusher is loaded. Used two ways: as Node module hooks in a
// bench child (in-process "bare" variant), and as an esbuild plugin (the "without metrics" bundle).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const METRICS_DIR = path.join(ROOT, 'lib', 'metrics');
const STUBS_DIR = path.join(ROOT, 'scripts', 'bench', 'stubs', 'metrics');
export const STUBBED = ['container', 'cache', 'errors', 'business', 'database'];

/** The stand-in for an absolute file path, or undefined when the file is not a stubbed metrics module. */
export function stubFor(file: string): string | undefined {
  if (path.dirname(file) !== METRICS_DIR) return undefined;
  const name = path.basename(file, '.ts');
  return STUBBED.includes(name) ? path.join(STUBS_DIR, `${name}.ts`) : undefined;
}

/** In this process, from now on: imports of the stubbed modules load the stand-ins. */
export async function installNoMetricsHooks(): Promise<void> {
  const { registerHooks } = await import('node:module');
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (!resolved.url.startsWith('file:')) return resolved;
      const stub = stubFor(fileURLToPath(resolved.url));
      return stub ? { ...resolved, url: pathToFileURL(stub).href, shortCircuit: true } : resolved;
    },
  });
}

/** esbuild plugin: the same swap at bundle time. */
export const noMetricsPlugin = {
  name: 'bench-no-metrics',
  setup(build: { onResolve(options: { filter: RegExp }, callback: (args: { path: string; resolveDir: string }) => { path: string } | undefined): void }) {
    build.onResolve({ filter: /metrics\/[a-z-]+\.ts$/ }, (args) => {
      const stub = stubFor(path.resolve(args.resolveDir, args.path));
      return stub ? { path: stub } : undefined;
    });
  },
};
