// What the benchmark needs, on loopback: the database (for the first, missing read), Redis (the cache, and our
// push slots) and a Pushgateway. Each one comes from the environment when set (DATABASE_URL, REDIS_URL,
// PUSHGATEWAY_URL), else it is started here on a free port and stopped by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './no-metrics.ts';

export interface Servers {
  databaseUrl: string;
  redisUrl: string;
  gatewayUrl: string;
  started: string[];
  stop(): Promise<void>;
}

import { freePort } from '../../test/support/pushgateway-process.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, child: ChildProcess, ready: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} during startup`);
    if (await ready().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} was not ready after 10 s`);
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A Pushgateway of our own, in memory only (always started here: the bench fills it on purpose). */
export async function startPushgateway(extraArgs: string[] = []): Promise<{ url: string; version: string; stop: () => Promise<void> }> {
  const bin = process.env.PUSHGATEWAY_BIN ?? 'prometheus-pushgateway';
  const port = await freePort();
  const child = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', ...extraArgs], { stdio: 'ignore' });
  child.on('error', () => {});
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${bin} (apt-get install prometheus-pushgateway)`, child, async () => (await fetch(`${url}/-/ready`)).ok);
    const status = (await (await fetch(`${url}/api/v1/status`)).json()) as { data?: { build_information?: { version?: string } } };
    return { url, version: status.data?.build_information?.version ?? '?', stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

export async function startServers(log: (line: string) => void): Promise<Servers> {
  const stops: (() => Promise<void>)[] = [];
  const started: string[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    stops.length = 0;
  };
  try {
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const port = await freePort();
      const child = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      child.on('error', () => {});
      stops.push(() => stopChild(child));
      await waitFor('redis-server (apt-get install redis-server)', child, () => redisPing(port));
      redisUrl = `redis://127.0.0.1:${port}`;
      started.push('redis-server');
    }

    let gatewayUrl = process.env.PUSHGATEWAY_URL;
    if (!gatewayUrl) {
      const gateway = await startPushgateway();
      stops.push(gateway.stop);
      gatewayUrl = gateway.url;
      started.push(`prometheus-pushgateway ${gateway.version}`);
    }

    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      // A fresh cluster in a temp dir; the children only read from it once, on their first miss. The server's
      // process takes its environment at spawn: quiet its seeding log, then put it back.
      const { startEmbeddedDatabase } = await import('../../lib/db/embedded.ts');
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'shop-bench-pg-'));
      stops.push(() => rm(dataDir, { recursive: true, force: true }));
      const logLevel = process.env.LOG_LEVEL;
      process.env.LOG_LEVEL = 'warn';
      const embedded = await startEmbeddedDatabase({ dataDir, port: await freePort(), migrationsDir: path.join(ROOT, 'lib', 'db', 'migrations') }).finally(() => {
        if (logLevel === undefined) delete process.env.LOG_LEVEL;
        else process.env.LOG_LEVEL = logLevel;
      });
      stops.push(() => embedded.stop());
      databaseUrl = embedded.url;
      started.push('embedded PostgreSQL');
    }
    log(`database ${databaseUrl}, redis ${redisUrl}, gateway ${gatewayUrl}${started.length ? ` (started here: ${started.join(', ')})` : ''}`);
    return { databaseUrl, redisUrl, gatewayUrl, started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
