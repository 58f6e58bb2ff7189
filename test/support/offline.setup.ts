// serverless-offline for the e2e project: the real bundles (serverless-esbuild), the real HTTP API
// emulation and a worker per warm function, pointed at the servers that servers.setup.ts prepared.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { E2E_BASE_URL, E2E_PORT } from './test-env.ts';

const READY_TIMEOUT_MS = 120_000;

export default async function setup(): Promise<() => Promise<void>> {
  const child: ChildProcess = spawn('npx', ['serverless', 'offline', 'start'], {
    // A generous push timeout: e2e tests check what is pushed, and this machine is busy running them.
    env: { ...process.env, HTTP_PORT: String(E2E_PORT), LAMBDA_PORT: String(E2E_PORT + 2), PUSH_TIMEOUT_MS: '2000' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so teardown also stops npx's child
  });
  let output = '';
  // Kept whole in a file, for reading after a failed run; the handlers' logs go there too.
  const logFile = path.join(os.tmpdir(), 'serverless-shop-e2e-offline.log');
  const log = createWriteStream(logFile);
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serverless-offline not ready after ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
    const poll = setInterval(() => {
      if (output.includes('Server ready')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`serverless-offline exited with ${code}:\n${output}`));
    });
  });
  process.env.E2E_BASE_URL = E2E_BASE_URL;
  console.log(`serverless-offline ready on ${E2E_BASE_URL}; its output: ${logFile}`);

  // The whole process group (npx and serverless under it); a group already gone is fine.
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {}
  };
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    signal('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (child.exitCode === null) signal('SIGKILL');
  };
}
