// The nginx edge of monitoring/nginx/nginx.conf in front of serverless-offline, rendered for loopback by
// scripts/stack/render.ts, with one change: its per-client rate limit is off. All of wrk's connections come
// from one address, so `limit_req` would answer 429 to nearly all of them and measure the limit, not the proxy.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMPOSE_PORTS, MONITORING_DIR, renderNginx } from '../stack/render.ts';

export const nginxAvailable = (): boolean => spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;

/** The rendered config with every `limit_req zone=...;` turned into a comment; fails if there was none to
 * turn off (then this file no longer knows the config). */
export function edgeConfig(apiPort: number, edgePort: number, stateDir: string): string {
  const rendered = renderNginx(path.join(MONITORING_DIR, 'nginx', 'nginx.conf'), { ...COMPOSE_PORTS, api: apiPort, nginx: edgePort }, stateDir);
  const limits = /^(\s*)(limit_req\s+zone=[^;]*;)/gm;
  if (!limits.test(rendered)) throw new Error('monitoring/nginx/nginx.conf has no `limit_req zone=...;` any more: update scripts/load/edge.ts');
  return rendered.replace(limits, '$1# (off for npm run load) $2');
}

export async function startEdge(apiPort: number, edgePort: number, runDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  // Run as root, nginx's workers drop to nobody and must still reach their temp directories.
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const conf = path.join(runDir, 'nginx.conf');
  writeFileSync(conf, edgeConfig(apiPort, edgePort, runDir));
  const args = ['-p', `${runDir}/`, '-c', conf, '-e', 'stderr'];
  // stdout must not be a socket (as a captured one is): nginx opens /dev/stdout for its access log.
  const check = spawnSync('nginx', [...args, '-t', '-q'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (check.status !== 0) throw new Error(`nginx -t failed for ${conf}:\n${check.stderr}`);
  // The access log (/dev/stdout in the config) goes to /dev/null, as a container's would go to its log driver.
  const child = spawn('nginx', [...args, '-g', 'daemon off;'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${edgePort}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
    if (await fetch(`${url}/info`).then((r) => r.ok, () => false)) return { url, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`nginx on ${url} did not answer /info within 10 s`);
}
