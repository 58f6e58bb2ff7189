// The provisioned JSON is rendered from the TypeScript dashboards and committed, so Grafana needs no build
// step; these functions write it and tell when the committed files no longer match the code.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboards } from './index.ts';

export const DASHBOARD_DIR = fileURLToPath(new URL('../grafana/dashboards/', import.meta.url));

/** File name → file text, as it is committed. */
export function renderDashboards(): Map<string, string> {
  return new Map(Object.entries(dashboards).map(([file, dashboard]) => [file, `${JSON.stringify(dashboard, null, 2)}\n`]));
}

async function jsonFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
}

/** Files that differ from a fresh render, are missing, or have no dashboard left (Grafana would still load them). */
export async function staleFiles(dir = DASHBOARD_DIR): Promise<string[]> {
  const rendered = renderDashboards();
  const stale: string[] = [];
  for (const [file, text] of rendered) {
    const committed = await readFile(join(dir, file), 'utf8').catch(() => undefined);
    if (committed !== text) stale.push(committed === undefined ? `${file} (missing)` : `${file} (differs)`);
  }
  for (const file of await jsonFiles(dir)) if (!rendered.has(file)) stale.push(`${file} (no such dashboard)`);
  return stale;
}

/** Writes every dashboard and removes JSON files of dashboards that no longer exist. */
export async function writeDashboards(dir = DASHBOARD_DIR): Promise<string[]> {
  const rendered = renderDashboards();
  for (const [file, text] of rendered) await writeFile(join(dir, file), text);
  const removed = (await jsonFiles(dir)).filter((file) => !rendered.has(file));
  for (const file of removed) await rm(join(dir, file));
  return [...rendered.keys()].concat(removed.map((f) => `${f} (removed)`));
}
