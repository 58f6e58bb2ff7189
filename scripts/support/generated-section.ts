// The generated part of a document (docs/benchmarks.md's results), rewritten between its markers by the command
// that measured it; everything outside the markers is left as written. A document without the markers (or
// none at all) gets them where `place` puts the new block.
import { readFile, writeFile } from 'node:fs/promises';

export async function writeGenerated(
  file: string,
  markers: { begin: string; end: string },
  generated: string,
  place: (doc: string, block: string) => string,
): Promise<void> {
  const block = `${markers.begin}\n\n${generated}\n${markers.end}`;
  const doc = await readFile(file, 'utf8').catch(() => '');
  const start = doc.indexOf(markers.begin);
  const end = doc.indexOf(markers.end);
  await writeFile(file, start >= 0 && end > start ? doc.slice(0, start) + block + doc.slice(end + markers.end.length) : place(doc, block));
}
