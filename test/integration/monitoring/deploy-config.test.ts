// The deployment files, checked without a Docker engine: docker-compose.full.yml by `docker-compose config`
// and by what it must guarantee, the Dockerfile by its stages and what it copies, and the nginx edge by
// running its loopback copy (scripts/stack/render.ts, as the stack without Docker does) in front of a
// stand-in for the API. Under CI a missing docker-compose or nginx fails the run; locally those parts are
// skipped with a warning.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config.ts';
import { COMPOSE_PORTS, MONITORING_DIR, renderNginx, type LocalPorts } from '../../../scripts/stack/render.ts';
import { freePort } from '../../../scripts/servers/process.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

// --- docker-compose.full.yml ------------------------------------------------------------------------------

interface Service {
  image?: string;
  init?: boolean;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition?: string }>;
  networks?: string[];
  ports?: string[];
  volumes?: string[];
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
  volumes: Record<string, unknown>;
}

// The names of the monitoring contract: other files (prometheus.yml, Grafana's datasource) address them.
const CONTRACT_SERVICES = ['alertmanager', 'api', 'grafana', 'nginx', 'node-exporter', 'postgres', 'postgres-exporter', 'prometheus', 'pushgateway', 'redis', 'redis-exporter'];
const EDGE_SERVICES = ['api', 'grafana', 'nginx'];
// Where each stateful service keeps its data: a named volume must be mounted there.
const DATA_DIRS: Record<string, string> = {
  postgres: '/var/lib/postgresql/data',
  redis: '/data',
  pushgateway: '/pushgateway',
  prometheus: '/prometheus',
  alertmanager: '/alertmanager',
  grafana: '/var/lib/grafana',
};

const compose = parse(read('docker-compose.full.yml'), { merge: true }) as Compose;
const services = Object.entries(compose.services);

/** `source:target[:mode]` of a short-syntax volume. */
function mount(spec: string) {
  const [source = '', target = '', mode = ''] = spec.split(':');
  return { source, target, mode, bind: source.startsWith('.') || source.startsWith('/') };
}

/** Whether two services share a network, i.e. one can reach the other by its service name. */
const reachable = (from: string, to: string) => {
  const a = compose.services[from]?.networks ?? [];
  return (compose.services[to]?.networks ?? []).some((network) => a.includes(network));
};

const dockerCompose = process.env.DOCKER_COMPOSE ?? 'docker-compose';
const composeAvailable = spawnSync(dockerCompose, ['version']).status === 0;
if (!composeAvailable && !process.env.CI) console.warn(`${dockerCompose} not found: docker-compose config is not run (CI requires it)`);

describe('docker-compose.full.yml', () => {
  it.runIf(composeAvailable || process.env.CI)('is accepted by docker-compose config', () => {
    const result = spawnSync(dockerCompose, ['-f', 'docker-compose.full.yml', 'config', '-q'], { cwd: root, encoding: 'utf8' });
    // No output either: an unset variable without a default is a warning, not an error.
    expect({ status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` }).toEqual({ status: 0, output: '' });
  });

  it('defines the services of the monitoring contract, images pinned, the API built from the Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(CONTRACT_SERVICES);
    for (const [name, service] of services) {
      if (name === 'api') {
        expect(service.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
        expect(service.image).toBeUndefined();
      } else {
        expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
        expect(service.image, name).not.toMatch(/:latest$/);
      }
    }
  });

  it('gives every service a healthcheck, the API through its Dockerfile', () => {
    for (const [name, service] of services) {
      if (name === 'api') {
        expect(service.healthcheck, 'the Dockerfile HEALTHCHECK applies unless compose overrides it').toBeUndefined();
        expect(finalStage().some((i) => i.keyword === 'HEALTHCHECK')).toBe(true);
      } else {
        expect(['CMD', 'CMD-SHELL'], name).toContain(service.healthcheck?.test[0]);
      }
    }
  });

  it('starts each service only once its dependencies are healthy', () => {
    const dependencies = services.flatMap(([name, service]) => Object.entries(service.depends_on ?? {}).map(([on, how]) => ({ name, on, how })));
    expect(dependencies.length).toBeGreaterThan(0);
    for (const { name, on, how } of dependencies) {
      expect(how, `${name} -> ${on}`).toEqual({ condition: 'service_healthy' });
      expect(Object.keys(compose.services), `${name} -> ${on}`).toContain(on);
    }
    expect(Object.keys(compose.services.api!.depends_on ?? {}).sort()).toEqual(['postgres', 'pushgateway', 'redis']);
    expect(Object.keys(compose.services.nginx!.depends_on ?? {})).toEqual(['api']);
  });

  it('runs the API under an init that passes docker stop on to offline', () => {
    expect(compose.services.api).toMatchObject({ init: true, environment: { TINI_KILL_PROCESS_GROUP: '1' } });
  });

  it('keeps the databases, the gateway and the monitoring on the internal network only', () => {
    expect(compose.networks.internal).toEqual({ internal: true });
    expect(compose.networks.edge?.internal).toBeFalsy();
    for (const [name, service] of services) {
      const expected = name === 'nginx' ? ['edge'] : EDGE_SERVICES.includes(name) ? ['edge', 'internal'] : ['internal'];
      expect(service.networks, name).toEqual(expected);
    }
  });

  it('publishes only nginx on 8080 and Grafana on 3001', () => {
    const published = Object.fromEntries(services.filter(([, service]) => service.ports).map(([name, service]) => [name, service.ports]));
    expect(published).toEqual({ nginx: ['8080:8080'], grafana: ['3001:3000'] });
  });

  it('keeps state in named volumes and mounts configuration read-only from files that exist', () => {
    for (const [name, service] of services) {
      for (const spec of service.volumes ?? []) {
        const { source, mode, bind } = mount(spec);
        if (!bind) {
          expect(Object.keys(compose.volumes), `${name}: ${spec}`).toContain(source);
          continue;
        }
        expect(mode.split(','), `${name}: ${spec}`).toContain('ro');
        // A missing source would be created as an empty directory by the engine and fail silently.
        if (source.startsWith('.')) expect(fs.existsSync(path.join(root, source)), `${name}: ${source}`).toBe(true);
      }
    }
    for (const [name, dir] of Object.entries(DATA_DIRS)) {
      const named = (compose.services[name]?.volumes ?? []).map(mount).filter((m) => !m.bind);
      expect(named.map((m) => m.target), name).toContain(dir);
    }
    expect(Object.keys(compose.volumes).sort()).toEqual(['alertmanager-data', 'grafana-data', 'pgdata', 'prometheus-data', 'pushgateway-data', 'redis-data']);
  });

  it('persists the gateway to a file on its named volume', () => {
    const gateway = compose.services.pushgateway!;
    const file = gateway.command?.find((arg) => arg.startsWith('--persistence.file='))?.split('=')[1];
    expect(file).toMatch(/\.db$/);
    const volume = (gateway.volumes ?? []).map(mount).find((m) => !m.bind && file!.startsWith(`${m.target}/`));
    expect(volume, `a named volume holding ${file}`).toBeDefined();
  });

  it('runs Prometheus and Alertmanager on monitoring/ and Grafana on its provisioning and dashboards', () => {
    for (const file of ['monitoring/prometheus.yml', 'monitoring/alertmanager.yml']) expect(fs.existsSync(path.join(root, file)), file).toBe(true);
    expect(compose.services.prometheus!.volumes).toContain('./monitoring:/etc/prometheus:ro');
    expect(compose.services.prometheus!.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(compose.services.alertmanager!.volumes).toContain('./monitoring:/etc/alertmanager:ro');
    expect(compose.services.alertmanager!.command).toContain('--config.file=/etc/alertmanager/alertmanager.yml');
    const grafana = compose.services.grafana!;
    expect(grafana.volumes).toEqual(expect.arrayContaining(['./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro', './monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro']));
    expect(grafana.environment).toMatchObject({ GF_SECURITY_ADMIN_USER: 'admin', GF_SECURITY_ADMIN_PASSWORD: '${GF_SECURITY_ADMIN_PASSWORD:-admin}' });
  });

  it('gives every address, in the environment and in prometheus.yml, a service on a shared network', () => {
    const addresses: { from: string; host: string; port: string }[] = [];
    for (const [name, service] of services) {
      for (const value of Object.values(service.environment ?? {})) {
        if (!/^[a-z]+:\/\//.test(value)) continue;
        const url = new URL(value.replaceAll(/\$\{[^}]*\}/g, 'x'));
        addresses.push({ from: name, host: url.hostname, port: url.port });
      }
    }
    const prometheus = parse(read('monitoring/prometheus.yml')) as {
      scrape_configs: { static_configs: { targets: string[] }[] }[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    };
    const targets = [...prometheus.scrape_configs, ...prometheus.alerting.alertmanagers].flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    for (const target of targets) {
      const [host = '', port = ''] = target.split(':');
      addresses.push({ from: 'prometheus', host, port });
    }
    expect(addresses.map((a) => a.host)).toEqual(expect.arrayContaining(['postgres', 'redis', 'pushgateway', 'alertmanager', 'node-exporter']));
    for (const { from, host, port } of addresses) {
      expect(reachable(from, host), `${from} reaches ${host}:${port}`).toBe(true);
    }
  });
});

// --- Dockerfile ---------------------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions with their continuation lines joined; comments and blank lines dropped. */
function instructions(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replaceAll(/\\\n/g, ' ');
  return logical
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(read('Dockerfile'));
const serverless = parse(read('serverless.yml')) as {
  functions: Record<string, { handler: string }>;
  custom: { esbuild: { plugins: string }; 'serverless-offline': { host: string } };
};
const finalStage = () => dockerfile.slice(dockerfile.findLastIndex((i) => i.keyword === 'FROM'));

describe('Dockerfile', () => {
  it('builds in stages on Node 24 and runs the final one as a non-root user', () => {
    const bases = dockerfile.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(' ')[0]);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(base).toMatch(/^node:24-/);
    const user = finalStage().findLast((i) => i.keyword === 'USER')?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
  });

  it('exposes the API port and starts the shop', () => {
    const stage = finalStage();
    expect(stage.find((i) => i.keyword === 'EXPOSE')?.args).toBe('3000');
    expect(JSON.parse(stage.find((i) => i.keyword === 'CMD')!.args)).toEqual(['node', 'scripts/start.ts']);
  });

  it('has a HEALTHCHECK that passes on a 200 from /healthz and fails on a 503', async () => {
    const healthcheck = finalStage().find((i) => i.keyword === 'HEALTHCHECK')!.args;
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[];
    let status = 200;
    const server = http.createServer((req, res) => res.writeHead(req.url === '/healthz' ? status : 404).end());
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const run = () =>
      new Promise<number | null>((resolve) => {
        const [bin = '', ...rest] = command;
        const env = { ...process.env, HTTP_PORT: String((server.address() as { port: number }).port) };
        spawn(bin === 'node' ? process.execPath : bin, rest, { env, stdio: 'ignore' }).once('exit', resolve);
      });
    try {
      expect(await run()).toBe(0);
      status = 503;
      expect(await run()).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('copies everything offline needs, from inside the .dockerignore allowlist', () => {
    const allowed = read('.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    // Sources from the build context (not from another stage), of every stage or of the final one.
    const sources = (stage: Instruction[]) => stage.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(' ').slice(0, -1));
    for (const source of sources(dockerfile)) {
      expect(fs.existsSync(path.join(root, source)), source).toBe(true);
      expect(allowed.some((entry) => source === entry || source.startsWith(`${entry}/`)), `${source} in the build context`).toBe(true);
    }
    const entries = ['scripts/start.ts', ...Object.values(serverless.functions).map((f) => `${f.handler.replace(/\.[^.]+$/, '')}.ts`)];
    // And what those import directly (lib/, package.json): enough to notice a directory left out.
    const imported = entries.flatMap((file) =>
      [...read(file).matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((m) => path.relative(root, path.resolve(root, path.dirname(file), m[1]!))),
    );
    const needed = ['package.json', 'serverless.yml', serverless.custom.esbuild.plugins.replace(/^\.\//, ''), ...entries, ...imported];
    const copied = sources(finalStage());
    for (const file of needed) {
      expect(copied.some((source) => file === source || file.startsWith(`${source}/`)), `${file} copied`).toBe(true);
    }
  });

  it('makes offline listen on every interface inside the container, through serverless.yml', () => {
    const env = finalStage().filter((i) => i.keyword === 'ENV').flatMap((i) => i.args.split(' '));
    expect(env).toContain('HTTP_HOST=0.0.0.0');
    expect(serverless.custom['serverless-offline'].host).toMatch(/^\$\{env:HTTP_HOST, /);
  });
});

// --- nginx edge -------------------------------------------------------------------------------------------

const nginxBin = process.env.NGINX_BIN ?? ['nginx', '/usr/sbin/nginx'].find((bin) => spawnSync(bin, ['-v']).status === 0);
if (!nginxBin && !process.env.CI) console.warn('nginx not found: the edge proxy is not run (CI requires it)');

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** A request sent as written (no path normalisation, unlike fetch), on a fresh connection. */
function send(port: number, target: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Every value a response carries for `name`: a header nginx and the API both set would show twice. */
const headerValues = (reply: Reply, name: string) => reply.rawHeaders.flatMap((value, i) => (i % 2 === 1 && reply.rawHeaders[i - 1]!.toLowerCase() === name ? [value] : []));
const errorCode = (reply: Reply) => (JSON.parse(reply.body.toString()) as { error: { code: string } }).error.code;

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
};

function expectSecurityHeaders(reply: Reply) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(headerValues(reply, name), name).toEqual([value]);
  expect(reply.headers.server).toBe('nginx');
}

describe.runIf(nginxBin || process.env.CI)('the nginx edge (monitoring/nginx)', () => {
  const bin = nginxBin ?? 'nginx';
  const seen: { url: string; headers: http.IncomingHttpHeaders; bodyBytes: number }[] = [];
  // Long enough to be gzipped (gzip_min_length), shaped like a product list.
  const catalogue = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i + 1, name: `Product ${i + 1}`, category: 'books' })), total: 40 });
  let runDir = '';
  let ports: LocalPorts;
  let upstream: http.Server;
  let nginx: ChildProcess | undefined;

  beforeAll(async () => {
    // A stand-in for the API: records what reaches it and answers like the API does, own security headers
    // included, so the test sees which copy the client gets.
    upstream = http.createServer((req, res) => {
      let bodyBytes = 0;
      req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      req.on('end', () => {
        seen.push({ url: req.url!, headers: req.headers, bodyBytes });
        if (req.url === '/api/crash') return void req.socket.destroy();
        res.writeHead(200, { 'content-type': 'application/json', 'x-frame-options': 'SAMEORIGIN', 'referrer-policy': 'unsafe-url' });
        res.end(req.url!.startsWith('/api/products') ? catalogue : '{"status":"ok"}');
      });
    });
    upstream.listen(0, '127.0.0.1');
    await new Promise((resolve) => upstream.once('listening', resolve));
    // Only the API and the edge appear in nginx.conf; the other services' ports are never rendered.
    const unused = Object.fromEntries(Object.keys(COMPOSE_PORTS).map((service) => [service, 0])) as LocalPorts;
    ports = { ...unused, api: (upstream.address() as { port: number }).port, nginx: await freePort() };

    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-edge-'));
    // Run as root (CI), nginx's workers drop to nobody and must still reach their temp directories.
    fs.chmodSync(runDir, 0o755);
    fs.mkdirSync(path.join(runDir, 'nginx'));
    fs.writeFileSync(path.join(runDir, 'nginx.conf'), renderNginx(path.join(MONITORING_DIR, 'nginx', 'nginx.conf'), ports, path.join(runDir, 'nginx')));
  });

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    await new Promise((resolve) => upstream?.close(resolve));
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  });

  const args = () => ['-c', path.join(runDir, 'nginx.conf'), '-e', 'stderr'];

  it('passes nginx -t', () => {
    // The access log is /dev/stdout, which nginx cannot open when stdout is a socket (as a captured one is).
    const result = spawnSync(bin, ['-t', ...args()], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    expect(result.status, result.stderr).toBe(0);
  });

  it('starts', async () => {
    const stderr: string[] = [];
    nginx = spawn(bin, [...args(), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    for (let attempt = 0; attempt < 100 && nginx.exitCode === null; attempt++) {
      // Any answer will do: nginx itself answers a path it does not proxy.
      if (await send(ports.nginx, '/nowhere').then(() => true, () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`nginx did not start:\n${stderr.join('')}`);
  });

  it('proxies a public route with X-Forwarded-* set by the edge and the client address it saw', async () => {
    const reply = await send(ports.nginx, '/api/products?limit=3', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe(catalogue);
    expect(seen.at(-1)!.url).toBe('/api/products?limit=3');
    expect(seen.at(-1)!.headers).toMatchObject({
      host: '127.0.0.1',
      'x-forwarded-for': '127.0.0.1',
      'x-real-ip': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': '127.0.0.1',
    });
    expect(seen.at(-1)!.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('sets its security headers once, on proxied answers and on its own', async () => {
    expectSecurityHeaders(await send(ports.nginx, '/api/products'));
    expectSecurityHeaders(await send(ports.nginx, '/nowhere'));
  });

  it('gzips JSON when the client asks, and asks the API for it uncompressed', async () => {
    const gzipped = await send(ports.nginx, '/api/products', { headers: { 'accept-encoding': 'gzip' } });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toContain('Accept-Encoding');
    expect(gunzipSync(gzipped.body).toString()).toBe(catalogue);
    expect(gzipped.body.length).toBeLessThan(catalogue.length);
    expect(seen.at(-1)!.headers['accept-encoding']).toBeUndefined();

    const plain = await send(ports.nginx, '/api/products');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(catalogue);
  });

  it('answers /healthz and /info but never /metrics or /healthz/metrics, however spelled', async () => {
    for (const target of ['/healthz', '/info']) {
      expect((await send(ports.nginx, target)).status, target).toBe(200);
      expect(seen.at(-1)!.url).toBe(target);
    }
    const before = seen.length;
    for (const target of ['/metrics', '/metrics/job/serverless-shop', '/healthz/metrics', '/healthz/metrics/', '/healthz//metrics', '/healthz/%6detrics', '/api/../healthz/metrics', '/api/%2e%2e/healthz/metrics', '/']) {
      const reply = await send(ports.nginx, target);
      expect(reply.status, target).toBe(404);
      expect(reply.headers['content-type'], target).toBe('application/json');
      expect(errorCode(reply), target).toBe('NOT_FOUND');
    }
    expect(seen.slice(before).map((s) => s.url)).toEqual([]);
  });

  it("refuses bodies over the API's own limit before they reach it", async () => {
    const limit = loadConfig({}).http.maxBodyBytes;
    const json = (bytes: number) => `{"pad":"${'x'.repeat(bytes - 10)}"}`;
    expect(json(limit)).toHaveLength(limit);
    const atLimit = await send(ports.nginx, '/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: json(limit) });
    expect(atLimit.status).toBe(200);
    expect(seen.at(-1)!.bodyBytes).toBe(limit);

    const before = seen.length;
    const over = await send(ports.nginx, '/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: json(limit + 1) });
    expect(over.status).toBe(413);
    expect(errorCode(over)).toBe('PAYLOAD_TOO_LARGE');
    expectSecurityHeaders(over);
    expect(seen.length).toBe(before);
  });

  it('answers 503 JSON when the API drops the connection', async () => {
    const reply = await send(ports.nginx, '/api/crash');
    expect(reply.status).toBe(503);
    expect(errorCode(reply)).toBe('SERVICE_UNAVAILABLE');
    expect(reply.headers['retry-after']).toBe('5');
    expectSecurityHeaders(reply);
  });

  // Last: the client's allowance stays spent for a few seconds.
  it('answers a burst beyond the rate limit with 429 JSON, and those requests never reach the API', async () => {
    const before = seen.length;
    const replies = await Promise.all(Array.from({ length: 100 }, () => send(ports.nginx, '/api/products')));
    const limited = replies.filter((r) => r.status === 429);
    const served = replies.filter((r) => r.status === 200);
    expect(served.length + limited.length).toBe(replies.length);
    expect(served.length).toBeGreaterThan(0);
    expect(limited.length).toBeGreaterThan(0);
    for (const reply of limited) {
      expect(errorCode(reply)).toBe('RATE_LIMITED');
      expect(reply.headers['retry-after']).toBe('1');
      expectSecurityHeaders(reply);
    }
    expect(seen.length - before).toBe(served.length);
  });
});
