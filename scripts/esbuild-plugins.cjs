// Loaded by serverless-esbuild (CommonJS: it require()s this file).
// The bundles are ESM with a .js extension (`.mjs` breaks `serverless invoke local`), and Lambda decides
// between ESM and CommonJS from the nearest package.json. serverless-esbuild never zips a root package.json,
// so this writes a minimal one beside the bundles, in `functions/`, which every function's zip contains.
const fs = require('node:fs');
const path = require('node:path');

module.exports = [
  {
    name: 'esm-package-marker',
    setup(build) {
      build.onEnd(() => {
        let dir = path.resolve(build.initialOptions.outdir ?? path.dirname(build.initialOptions.outfile));
        while (path.basename(path.dirname(dir)) !== '.build' && path.dirname(dir) !== dir) dir = path.dirname(dir);
        if (path.basename(path.dirname(dir)) === '.build') {
          fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
        }
      });
    },
  },
];
