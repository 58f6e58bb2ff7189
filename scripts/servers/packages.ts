// The Debian packages our servers come from, installed with apt-get when a binary is missing: CI runs on a clean
// machine (as root), and `scripts/test-servers.sh start` is its one setup step.
import { execFileSync, spawnSync } from 'node:child_process';
import { onPath } from './process.ts';
import { postgresBin } from './postgres.ts';

// binary: package (promtool ships with prometheus, amtool with alertmanager). Besides the servers started here,
// the monitoring tests start Alertmanager, the exporters and nginx themselves, and run docker-compose (only
// `docker-compose config`: there is no engine).
const PACKAGES: Record<string, string> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  'prometheus-pushgateway': 'prometheus-pushgateway',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  curl: 'curl',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  amtool: 'prometheus-alertmanager',
  'prometheus-node-exporter': 'prometheus-node-exporter',
  'prometheus-postgres-exporter': 'prometheus-postgres-exporter',
  'prometheus-redis-exporter': 'prometheus-redis-exporter',
  nginx: 'nginx',
  'docker-compose': 'docker-compose',
};
const POSTGRES_TOOLS = ['initdb', 'pg_ctl', 'postgres'];

/** Debian packages whose binaries are missing, among those `binaries` need (all when not given). */
export function missingPackages(binaries: string[] = Object.keys(PACKAGES)): string[] {
  const missing = new Set<string>();
  const pg = postgresBin();
  if (!pg || !POSTGRES_TOOLS.every((tool) => onPath(`${pg}/${tool}`))) missing.add('postgresql');
  for (const binary of binaries) if (!onPath(binary)) missing.add(PACKAGES[binary] ?? binary);
  return [...missing].sort();
}

export function ensurePackages(log: (line: string) => void): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing packages and we are not root: apt-get install ${missing.join(' ')}`);
  log(`installing ${missing.join(' ')} with apt-get`);
  // The output goes to stderr: stdout carries only the export lines.
  const apt = (args: string[]) => execFileSync('apt-get', args, { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  apt(['update']);
  // --no-install-recommends: prometheus would otherwise pull in prometheus-node-exporter and friends.
  apt(['install', '-y', '--no-install-recommends', ...missing]);
  const still = missingPackages();
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(' ')}`);
}

export const commandPath = (binary: string): string => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', binary], { encoding: 'utf8' }).stdout.trim();
