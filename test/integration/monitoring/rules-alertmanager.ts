// A real Alertmanager (Debian's prometheus-alertmanager) on a free loopback port, fed a copy of
// monitoring/alertmanager.yml whose webhooks point at an HTTP server of the test.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../../scripts/servers/process.ts';

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? 'prometheus-alertmanager';

/** The body Alertmanager's webhook_configs POST (version 4). */
export interface WebhookPayload {
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

export interface WebhookReceiver {
  url: string;
  received: WebhookPayload[];
  /** Resolves with the first notification (already received or still to come) that matches. */
  waitFor(match: (p: WebhookPayload) => boolean, timeoutMs?: number): Promise<WebhookPayload>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: WebhookPayload[] = [];
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as WebhookPayload);
      res.writeHead(200).end();
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    waitFor(match, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find(match);
          if (!found) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching notification within ${timeoutMs} ms; received: ${JSON.stringify(received)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Route {
  receiver?: string;
  group_wait?: string;
  group_interval?: string;
  routes?: Route[];
}
interface AlertmanagerConfig {
  route: Route;
  receivers: { name: string; webhook_configs?: { url: string }[] }[];
}

/**
 * The config under test with every webhook sent to `<webhookUrl>/<receiver>`, and waits of 1 s instead of the
 * production 10-30 s (the test checks routing, grouping and inhibition, not timings).
 */
export function forTest(config: AlertmanagerConfig, webhookUrl: string): AlertmanagerConfig {
  const copy = structuredClone(config);
  for (const receiver of copy.receivers) {
    for (const webhook of receiver.webhook_configs ?? []) webhook.url = `${webhookUrl}/${receiver.name}`;
  }
  const shorten = (route: Route) => {
    if (route.group_wait) route.group_wait = '1s';
    if (route.group_interval) route.group_interval = '1s';
    route.routes?.forEach(shorten);
  };
  shorten(copy.route);
  return copy;
}

export interface Alertmanager {
  url: string;
  stop(): Promise<void>;
}

export async function startAlertmanager(config: AlertmanagerConfig): Promise<Alertmanager> {
  const dir = await mkdtemp(path.join(tmpdir(), 'shop-alertmanager-'));
  const configFile = path.join(dir, 'alertmanager.yml');
  await writeFile(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log: string[] = [];
  // No cluster listener: it would bind 0.0.0.0:9094, shared by every Alertmanager on the machine.
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [`--config.file=${configFile}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (chunk: Buffer) => log.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  for (let attempt = 0; attempt < 100; attempt++) {
    const failed = await Promise.race([spawnFailed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50))]);
    if (failed) {
      await stop();
      throw new Error(`cannot run ${ALERTMANAGER_BIN}: ${failed.message} (apt-get install prometheus-alertmanager)`);
    }
    if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) return { url, stop };
  }
  await stop();
  throw new Error(`alertmanager did not start on ${port}:\n${log.join('\n')}`);
}

export interface PostedAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** What Prometheus does: POST firing alerts to /api/v2/alerts. */
export async function postAlerts(alertmanagerUrl: string, alerts: PostedAlert[]): Promise<void> {
  const response = await fetch(`${alertmanagerUrl}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(alerts.map((a) => ({ ...a, startsAt: new Date().toISOString() }))),
  });
  if (!response.ok) throw new Error(`alertmanager answered ${response.status}: ${await response.text()}`);
}

export interface AlertState {
  labels: Record<string, string>;
  fingerprint: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[] };
}

export async function alertStates(alertmanagerUrl: string): Promise<AlertState[]> {
  const response = await fetch(`${alertmanagerUrl}/api/v2/alerts`);
  return (await response.json()) as AlertState[];
}
