// After tsc: the declaration files' relative imports pointed at .js, as tsc does for the JavaScript only, so
// that a TypeScript of any version resolves them.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const dist = new URL('./dist/', import.meta.url);
for (const file of readdirSync(dist).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(new URL(file, dist), 'utf8');
  writeFileSync(new URL(file, dist), text.replace(/(from '\.{1,2}\/[^']+)\.ts'/g, "$1.js'"));
}
