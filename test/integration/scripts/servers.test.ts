// The test servers' launcher as .ci/run uses it: `start` in a fresh dir on free ports exits, leaving servers that
// answer at the URLs it exported; `stop` leaves none of their processes.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { missingPackages } from '../../../scripts/servers/packages.ts';
import { freePort, requireBinaries } from '../../../scripts/servers/process.ts';
import { redisPing } from '../../../scripts/servers/redis.ts';

const LAUNCHER = path.resolve(import.meta.dirname, '../../../scripts/test-servers.sh');
const binaries = ['redis-server', 'prometheus-pushgateway', 'prometheus', 'promtool'];
const available = requireBinaries(missingPackages(binaries).length === 0, binaries.join(', '));
const run = promisify(execFile);

// A process that exited but was not reaped yet (a zombie: its parent, once `start` has exited, is whatever pid 1
// is here) is gone too.
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2, stat.lastIndexOf(') ') + 3) !== 'Z';
  } catch {
    return false;
  }
};

describe.skipIf(!available)('scripts/test-servers.sh', () => {
  let dir = '';
  const env: NodeJS.ProcessEnv = { ...process.env };
  afterAll(async () => {
    if (!dir) return;
    await run('bash', [LAUNCHER, 'stop', dir], { env }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('starts the servers on the given ports, exports their URLs, and stops them all', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shop-launcher-'));
    for (const name of ['POSTGRES_PORT', 'REDIS_PORT', 'PUSHGATEWAY_PORT', 'PROMETHEUS_PORT']) env[name] = String(await freePort());
    const { stdout } = await run('bash', [LAUNCHER, 'start', dir], { env });
    const exported = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(exported).sort()).toEqual(['DATABASE_URL', 'PROMETHEUS_URL', 'PROMTOOL', 'PUSHGATEWAY_URL', 'REDIS_URL']);
    expect(stdout.trim().split('\n')).toHaveLength(5); // nothing else on stdout: it is eval'ed
    expect(exported.DATABASE_URL).toBe(`postgres://postgres@127.0.0.1:${env.POSTGRES_PORT}/shop`);

    const client = new pg.Client({ connectionString: exported.DATABASE_URL });
    await client.connect();
    expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    await client.end();
    expect(await redisPing(Number(env.REDIS_PORT))).toBe(true);
    expect((await fetch(`${exported.PUSHGATEWAY_URL}/-/ready`)).ok).toBe(true);
    // Prometheus scrapes the gateway already (start waits for it).
    const query = await fetch(`${exported.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent('up{job="pushgateway"}')}`);
    expect(((await query.json()) as { data: { result: { value: [number, string] }[] } }).data.result[0]?.value[1]).toBe('1');

    const pidFiles = ['redis/redis.pid', 'pushgateway/pushgateway.pid', 'prometheus/prometheus.pid', 'pg/data/postmaster.pid'];
    const pids = await Promise.all(pidFiles.map(async (file) => Number((await readFile(path.join(dir, file), 'utf8')).split('\n')[0])));
    expect(pids.every(alive)).toBe(true);

    await run('bash', [LAUNCHER, 'stop', dir], { env });
    expect(pids.filter(alive)).toEqual([]);
  });
});
