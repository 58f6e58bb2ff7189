// Prometheus on loopback: how to run it, and the test servers' config (monitoring/prometheus.test.yml with the
// actual ports). The local stack renders monitoring/prometheus.yml instead (scripts/stack/render.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { httpOk, sleep, type Launch } from './process.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const TEST_CONFIG_TEMPLATE = path.join(REPO_ROOT, 'monitoring', 'prometheus.test.yml');
// The addresses written in the template, replaced by the actual ports.
const TEMPLATE_ADDRESSES = { pushgateway: '127.0.0.1:59091', prometheus: '127.0.0.1:59090' };

export function renderTestConfig(file: string, ports: { pushgateway: number; prometheus: number }): void {
  let text = readFileSync(TEST_CONFIG_TEMPLATE, 'utf8');
  for (const [name, address] of Object.entries(TEMPLATE_ADDRESSES) as [keyof typeof ports, string][]) {
    if (!text.includes(address)) throw new Error(`${TEST_CONFIG_TEMPLATE} does not contain ${address} any more: update ${import.meta.filename}`);
    text = text.replaceAll(address, `127.0.0.1:${ports[name]}`);
  }
  writeFileSync(file, text);
}

/** `remoteWriteReceiver`: it takes remote write at /api/v1/write (the remote-write flusher's target). */
export function prometheusLaunch(port: number, configFile: string, dataDir: string, { remoteWriteReceiver = false } = {}): Launch {
  const args = [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-admin-api', '--web.enable-lifecycle'];
  return {
    name: `prometheus on 127.0.0.1:${port}`,
    command: 'prometheus',
    args: remoteWriteReceiver ? [...args, '--web.enable-remote-write-receiver'] : args,
    ready: () => httpOk(`http://127.0.0.1:${port}/-/ready`),
  };
}

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

/** Active targets not scraped successfully yet, one line each ("no targets yet" before the first are loaded). */
export async function targetsNotUp(prometheusUrl: string): Promise<string[]> {
  const response = await fetch(new URL('/api/v1/targets?state=active', prometheusUrl), { signal: AbortSignal.timeout(2000) });
  const targets = ((await response.json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
  if (targets.length === 0) return ['no targets yet'];
  return targets.filter((t) => t.health !== 'up').map((t) => `${t.labels.job} ${t.scrapeUrl} ${t.health} ${t.lastError}`);
}

/**
 * Waits until every target has been scraped. /-/ready answers long before the first scrape: Prometheus applies
 * its scrape targets only on a 5 s reload tick. After this, a test pushing right away sees its metric after one
 * scrape interval.
 */
export async function waitForTargets(prometheusUrl: string, timeoutMs: number): Promise<void> {
  let down = ['not asked yet'];
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(200)) {
    down = await targetsNotUp(prometheusUrl).catch((err: Error) => [err.message]);
    if (down.length === 0) return;
  }
  throw new Error(`Prometheus targets not up after ${timeoutMs / 1000} s:\n${down.join('\n')}`);
}
