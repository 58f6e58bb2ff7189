// The local stack's copies of the compose configs: compose service names become 127.0.0.1 and the local
// ports, paths become absolute, and nothing else changes. Fixtures have the shape the monitoring contract
// gives monitoring/prometheus.yml, alertmanager.yml and nginx/nginx.conf.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_PORTS, PORT_ENV, portsFromEnv, renderAll, renderAlertmanager, renderNginx, renderPrometheus, type LocalPorts } from '../../../../scripts/stack/render.ts';

const PORTS: LocalPorts = {
  api: 64100,
  nginx: 64080,
  postgres: 64432,
  redis: 64379,
  pushgateway: 64091,
  prometheus: 64090,
  alertmanager: 64093,
  'postgres-exporter': 64187,
  'redis-exporter': 64121,
  'node-exporter': 64110,
};

const PROMETHEUS = `
global: { scrape_interval: 15s, evaluation_interval: 15s }
rule_files: ['rules/*.yml', '/etc/prometheus/extra/more.yml']
alerting:
  alertmanagers:
    - static_configs: [{ targets: ['alertmanager:9093'] }]
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    scrape_interval: 5s
    static_configs: [{ targets: ['pushgateway:9091'] }]
  - job_name: prometheus
    static_configs: [{ targets: ['localhost:9090'] }]
  - job_name: alertmanager
    static_configs: [{ targets: ['alertmanager:9093'] }]
  - job_name: postgres
    static_configs: [{ targets: ['postgres-exporter:9187'] }]
  - job_name: redis
    static_configs: [{ targets: ['redis-exporter:9121'] }]
  - job_name: node
    metrics_path: /metrics
    static_configs: [{ targets: ['node-exporter:9100'], labels: { role: host } }]
`;

const ALERTMANAGER = `
route: { receiver: tickets, group_by: [alertname, route] }
templates: ['alertmanager/*.tmpl']
receivers:
  - name: tickets
    webhook_configs:
      - url: http://alertmanager:9093/api/v2/alerts
      - url: https://tickets.example.com:8443/hook
      - url: http://127.0.0.1:9095/alerts/tickets
`;

const NGINX = `# \`server api:3000;\` and \`listen 8080;\` are rendered; so is this comment's /tmp/, harmlessly.
pid /tmp/nginx.pid;
events {}
http {
    client_body_temp_path /tmp/nginx-client-body;
    upstream api {
        server api:3000;
        keepalive 16;
    }
    server {
        listen 8080;
        include security-headers.conf;
        location /api/ {
            proxy_pass http://api;
        }
        location /direct/ {
            proxy_pass http://api:3000;
        }
    }
}
`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'render-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const source = (name: string, text: string) => {
  const file = path.join(dir, 'monitoring', name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
};
const monitoring = path.join(dir, 'monitoring');

describe('renderPrometheus', () => {
  const rendered = parse(renderPrometheus(source('prometheus.yml', PROMETHEUS), PORTS));
  const targets = (job: string) => rendered.scrape_configs.find((j: { job_name: string }) => j.job_name === job).static_configs[0].targets;

  it('points every scrape target at 127.0.0.1 and the local port of its service', () => {
    expect(targets('pushgateway')).toEqual(['127.0.0.1:64091']);
    expect(targets('prometheus')).toEqual(['127.0.0.1:64090']); // localhost:9090 is Prometheus itself
    expect(targets('alertmanager')).toEqual(['127.0.0.1:64093']);
    expect(targets('postgres')).toEqual(['127.0.0.1:64187']);
    expect(targets('redis')).toEqual(['127.0.0.1:64121']);
    expect(targets('node')).toEqual(['127.0.0.1:64110']);
  });

  it('sends alerts to the local Alertmanager', () => {
    expect(rendered.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['127.0.0.1:64093']);
  });

  it('makes rule file paths absolute: relative to the config, or under the directory compose mounts at /etc/prometheus', () => {
    expect(rendered.rule_files).toEqual([path.join(monitoring, 'rules/*.yml'), path.join(monitoring, 'extra/more.yml')]);
  });

  it('keeps everything else as it was', () => {
    const original = parse(PROMETHEUS);
    const job = rendered.scrape_configs[0];
    expect(job).toEqual({ ...original.scrape_configs[0], static_configs: [{ targets: ['127.0.0.1:64091'] }] });
    expect(rendered.global).toEqual(original.global);
    expect(rendered.scrape_configs.at(-1)).toEqual(expect.objectContaining({ metrics_path: '/metrics' }));
    expect(rendered.scrape_configs.at(-1).static_configs[0].labels).toEqual({ role: 'host' });
  });

  it('refuses a target that is not a service of the contract, naming it', () => {
    const bad = source('bad-prometheus.yml', 'scrape_configs:\n  - job_name: grafana\n    static_configs: [{ targets: ["grafana:3000"] }]\n');
    expect(() => renderPrometheus(bad, PORTS)).toThrow(/grafana:3000 is not a compose service/);
    const wrongPort = source('wrong-port.yml', 'scrape_configs:\n  - job_name: x\n    static_configs: [{ targets: ["pushgateway:9999"] }]\n');
    expect(() => renderPrometheus(wrongPort, PORTS)).toThrow(/pushgateway:9999/);
  });
});

describe('renderAlertmanager', () => {
  const rendered = parse(renderAlertmanager(source('alertmanager.yml', ALERTMANAGER), PORTS));

  it('rewrites receiver URLs that name a compose service, and leaves the others', () => {
    expect(rendered.receivers[0].webhook_configs.map((w: { url: string }) => w.url)).toEqual([
      'http://127.0.0.1:64093/api/v2/alerts',
      'https://tickets.example.com:8443/hook',
      'http://127.0.0.1:9095/alerts/tickets',
    ]);
    expect(rendered.route).toEqual(parse(ALERTMANAGER).route);
  });

  it('makes template paths absolute', () => {
    expect(rendered.templates).toEqual([path.join(monitoring, 'alertmanager/*.tmpl')]);
  });
});

describe('renderNginx', () => {
  const state = path.join(dir, 'run', 'nginx');
  const rendered = renderNginx(source('nginx/nginx.conf', NGINX), PORTS, state);
  const lines = rendered.split('\n').map((l) => l.trim());

  it('proxies to the local API and listens on 127.0.0.1 only', () => {
    expect(lines).toContain('server 127.0.0.1:64100;');
    expect(lines).toContain('proxy_pass http://127.0.0.1:64100;');
    expect(lines).toContain('proxy_pass http://api;'); // the upstream, by name
    expect(lines).toContain('listen 127.0.0.1:64080;');
    expect(rendered).not.toMatch(/^\s*(server|listen)\s+(api:3000|8080);/m);
  });

  it('moves runtime files from /tmp/ to the state directory and makes includes absolute', () => {
    expect(lines).toContain(`pid ${state}/nginx.pid;`);
    expect(lines).toContain(`client_body_temp_path ${state}/nginx-client-body;`);
    expect(lines).toContain(`include ${path.join(monitoring, 'nginx', 'security-headers.conf')};`);
  });

  it('leaves the comments that describe the rendering as they are, apart from /tmp/', () => {
    expect(lines).toContain(`# \`server api:3000;\` and \`listen 8080;\` are rendered; so is this comment's ${state}/, harmlessly.`);
  });

  it('refuses a listener other than the edge port', () => {
    const other = source('nginx/other.conf', 'http {\n  server {\n    listen 127.0.0.1:8081;\n  }\n}\n');
    expect(() => renderNginx(other, PORTS, state)).toThrow(/listen 127.0.0.1:8081/);
  });
});

describe('portsFromEnv and renderAll (the CLI)', () => {
  const env = Object.fromEntries(Object.entries(PORT_ENV).map(([service, name]) => [name, String(PORTS[service as keyof LocalPorts])]));

  it('reads every local port from its variable, and names the one missing', () => {
    expect(portsFromEnv(env)).toEqual(PORTS);
    const { PROMETHEUS_PORT: _, ...withoutPrometheus } = env;
    expect(() => portsFromEnv(withoutPrometheus)).toThrow(/PROMETHEUS_PORT must be set/);
    expect(() => portsFromEnv({ ...env, REDIS_PORT: '63 79' })).toThrow(/REDIS_PORT/);
  });

  it('covers every service of the contract', () => {
    expect(Object.keys(PORT_ENV).sort()).toEqual(Object.keys(COMPOSE_PORTS).sort());
  });

  it('writes the three copies into the output directory', () => {
    source('nginx/nginx.conf', NGINX);
    const out = path.join(dir, 'out');
    const files = renderAll(out, PORTS, monitoring);
    expect(files).toEqual({ prometheus: path.join(out, 'prometheus.yml'), alertmanager: path.join(out, 'alertmanager.yml'), nginx: path.join(out, 'nginx.conf') });
    expect(readFileSync(files.prometheus, 'utf8')).toContain('127.0.0.1:64091');
    expect(readFileSync(files.nginx, 'utf8')).toContain(`pid ${path.join(out, 'nginx')}/nginx.pid;`);
  });
});
