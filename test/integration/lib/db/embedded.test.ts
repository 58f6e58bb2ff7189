// The embedded PostgreSQL of `npm start` (no DATABASE_URL): its data between runs, a clean stop, a run that
// was killed, and the two ways a start is refused. Each test has data directories of its own.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../../../lib/db/embedded.ts';
import { freePort } from '../../../../scripts/servers/process.ts';

const dirs: string[] = [];
const running: EmbeddedDatabase[] = [];

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shop-embedded-test-'));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string, port: number): Promise<EmbeddedDatabase> {
  const database = await startEmbeddedDatabase({ dataDir, port });
  running.push(database);
  return database;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const postmasterPid = (dataDir: string) => Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

afterEach(async () => {
  for (const database of running.splice(0)) await database.stop();
  for (const dir of dirs.splice(0)) {
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.lock`, { force: true });
  }
});

describe('the embedded PostgreSQL', () => {
  it('is migrated and seeded, keeps its data between runs and stops cleanly', async () => {
    const dataDir = await freshDir();
    const port = await freePort();
    const first = await start(dataDir, port);
    expect((await query<{ n: number }>(first.url, 'SELECT count(*)::int AS n FROM products'))[0]!.n).toBeGreaterThanOrEqual(30);
    await query(first.url, 'CREATE TABLE kept AS SELECT 42 AS v');
    const pid = postmasterPid(dataDir);
    await first.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(existsSync(`${dataDir}.lock`)).toBe(false);

    const second = await start(dataDir, port);
    expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 42 }]);
  });

  it('takes over from a run that was killed, stopping the server it left running', async () => {
    const dataDir = await freshDir();
    const port = await freePort();
    await start(dataDir, port);
    const orphan = postmasterPid(dataDir);
    // The lock holds the PID of the process that owns the server: killed hard, it cannot stop its server.
    process.kill(Number(readFileSync(`${dataDir}.lock`, 'utf8')), 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(isAlive(orphan)).toBe(true);

    const next = await start(dataDir, port);
    expect(isAlive(orphan)).toBe(false);
    expect(await query(next.url, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
  });

  it('refuses a data directory in use and a port taken, saying which', async () => {
    const [dataDir, otherDir] = [await freshDir(), await freshDir()];
    const port = await freePort();
    await start(dataDir, port);
    await expect(startEmbeddedDatabase({ dataDir, port: await freePort() })).rejects.toThrow(/data directory .* is in use by process \d+/);
    await expect(startEmbeddedDatabase({ dataDir: otherDir, port })).rejects.toThrow(`port ${port} is already in use`);
  });
});
