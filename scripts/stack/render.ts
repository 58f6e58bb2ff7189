// Loopback copies of the compose stack's configs (monitoring/prometheus.yml, monitoring/alertmanager.yml,
// monitoring/nginx/nginx.conf) for the stack without Docker: every compose service name becomes 127.0.0.1 and
// its local port, paths become absolute, so the binaries read the same rules and routes as the containers.
// renderAll writes <out-dir>/prometheus.yml, alertmanager.yml and nginx.conf (nginx's pid and temp files under
// <out-dir>/nginx) for scripts/stack/local.ts; portsFromEnv reads the local ports from the environment variables
// in PORT_ENV.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

/** Compose service → its port inside compose (the monitoring contract). */
export const COMPOSE_PORTS = {
  api: 3000,
  nginx: 8080,
  postgres: 5432,
  redis: 6379,
  pushgateway: 9091,
  prometheus: 9090,
  alertmanager: 9093,
  'postgres-exporter': 9187,
  'redis-exporter': 9121,
  'node-exporter': 9100,
} as const;
export type Service = keyof typeof COMPOSE_PORTS;
export type LocalPorts = Record<Service, number>;

/** The environment variable that carries each service's local port. */
export const PORT_ENV: Record<Service, string> = {
  api: 'HTTP_PORT',
  nginx: 'NGINX_PORT',
  postgres: 'POSTGRES_PORT',
  redis: 'REDIS_PORT',
  pushgateway: 'PUSHGATEWAY_PORT',
  prometheus: 'PROMETHEUS_PORT',
  alertmanager: 'ALERTMANAGER_PORT',
  'postgres-exporter': 'POSTGRES_EXPORTER_PORT',
  'redis-exporter': 'REDIS_EXPORTER_PORT',
  'node-exporter': 'NODE_EXPORTER_PORT',
};

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const MONITORING_DIR = path.join(REPO_ROOT, 'monitoring');

const isService = (host: string): host is Service => Object.hasOwn(COMPOSE_PORTS, host);
const isLoopback = (host: string) => host === 'localhost' || host === '127.0.0.1';

/** `host:port` of a compose service (or of a loopback address with a compose port) as seen from here. */
export function localAddress(address: string, ports: LocalPorts): string {
  const match = /^([A-Za-z0-9.-]+):(\d+)$/.exec(address);
  if (!match) throw new Error(`not a host:port address: ${address}`);
  const [, host, port] = match as unknown as [string, string, string];
  if (isService(host) && Number(port) === COMPOSE_PORTS[host]) return `127.0.0.1:${ports[host]}`;
  // Inside a container, localhost:9090 is that container's own service.
  const own = isLoopback(host) ? (Object.keys(COMPOSE_PORTS) as Service[]).filter((s) => COMPOSE_PORTS[s] === Number(port)) : [];
  if (own.length === 1) return `127.0.0.1:${ports[own[0]!]}`;
  throw new Error(`${address} is not a compose service of the monitoring contract (${Object.keys(COMPOSE_PORTS).join(', ')})`);
}

/** A path of a config file as the binary here must read it: relative to the file's directory, or under the
 * directory that compose mounts it from. */
export function localPath(file: string, configDir: string, mount: { container: string; host: string }): string {
  if (file === mount.container || file.startsWith(`${mount.container}/`)) return path.join(mount.host, file.slice(mount.container.length));
  return path.resolve(configDir, file);
}

const header = (source: string) => `# Rendered by scripts/stack/render.ts from ${path.relative(REPO_ROOT, source)}; edit that file instead.\n`;

interface StaticConfigs {
  static_configs?: { targets?: string[] }[];
}

export function renderPrometheus(source: string, ports: LocalPorts): string {
  const configDir = path.dirname(source);
  const config = parse(readFileSync(source, 'utf8')) as {
    rule_files?: string[];
    scrape_configs?: StaticConfigs[];
    alerting?: { alertmanagers?: StaticConfigs[] };
  };
  const rewrite = (groups: StaticConfigs[] = []) => {
    for (const group of groups) for (const sc of group.static_configs ?? []) sc.targets = sc.targets?.map((t) => localAddress(t, ports));
  };
  config.rule_files = config.rule_files?.map((file) => localPath(file, configDir, { container: '/etc/prometheus', host: configDir }));
  rewrite(config.scrape_configs);
  rewrite(config.alerting?.alertmanagers);
  return header(source) + stringify(config);
}

/** Alertmanager: URLs that name a compose service (a webhook receiver) and template paths. */
export function renderAlertmanager(source: string, ports: LocalPorts): string {
  const configDir = path.dirname(source);
  const localUrls = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return value.replace(/^(https?:\/\/)([A-Za-z0-9.-]+:\d+)(?=[/?#]|$)/, (all, scheme: string, address: string) => {
        const host = address.split(':')[0]!;
        return isService(host) ? scheme + localAddress(address, ports) : all;
      });
    }
    if (Array.isArray(value)) return value.map(localUrls);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, localUrls(v)]));
    return value;
  };
  const config = localUrls(parse(readFileSync(source, 'utf8'))) as { templates?: string[] };
  config.templates = config.templates?.map((file) => localPath(file, configDir, { container: '/etc/alertmanager', host: configDir }));
  return header(source) + stringify(config);
}

/** nginx, as monitoring/nginx/nginx.conf says its copies are made: the upstream and proxy_pass addresses of
 * compose services, the edge listener on 127.0.0.1, runtime files from /tmp/ to `stateDir`, and includes
 * made absolute (nginx reads them relative to the config file's directory). */
export function renderNginx(source: string, ports: LocalPorts, stateDir: string): string {
  const configDir = path.dirname(source);
  // Directives at the start of a line only: the comments that explain the rendering stay as they are.
  // /tmp/ first: the paths put in below may themselves be under /tmp/.
  const text = readFileSync(source, 'utf8')
    .replaceAll('/tmp/', `${stateDir}/`)
    .replace(/^(\s*listen\s+)([^\s;]+)/gm, (all, directive: string, address: string) => {
      if (address !== String(COMPOSE_PORTS.nginx)) throw new Error(`${source}: \`listen ${address}\` is not the edge's port ${COMPOSE_PORTS.nginx}`);
      return `${directive}127.0.0.1:${ports.nginx}`;
    })
    .replace(/^(\s*(?:server\s+|proxy_pass\s+https?:\/\/))([A-Za-z][A-Za-z0-9.-]*:\d+)/gm, (all, directive: string, address: string) =>
      isService(address.split(':')[0]!) ? directive + localAddress(address, ports) : all,
    )
    .replace(/^(\s*include\s+)([^\s;]+);/gm, (all, directive: string, file: string) =>
      `${directive}${localPath(file, configDir, { container: '/etc/nginx/edge', host: configDir })};`,
    );
  return header(source) + text;
}

export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): LocalPorts {
  const entries = (Object.keys(PORT_ENV) as Service[]).map((service) => {
    const value = env[PORT_ENV[service]];
    if (!value || !/^\d+$/.test(value)) throw new Error(`${PORT_ENV[service]} must be set to a port number (the local port of ${service})`);
    return [service, Number(value)] as const;
  });
  return Object.fromEntries(entries) as LocalPorts;
}

/** Writes the three copies into `outDir` and returns their paths. */
export function renderAll(outDir: string, ports: LocalPorts, monitoringDir = MONITORING_DIR) {
  const stateDir = path.join(outDir, 'nginx');
  mkdirSync(stateDir, { recursive: true });
  const files = {
    prometheus: [path.join(outDir, 'prometheus.yml'), renderPrometheus(path.join(monitoringDir, 'prometheus.yml'), ports)],
    alertmanager: [path.join(outDir, 'alertmanager.yml'), renderAlertmanager(path.join(monitoringDir, 'alertmanager.yml'), ports)],
    nginx: [path.join(outDir, 'nginx.conf'), renderNginx(path.join(monitoringDir, 'nginx', 'nginx.conf'), ports, stateDir)],
  } as const;
  for (const [file, text] of Object.values(files)) writeFileSync(file, text);
  return { prometheus: files.prometheus[0], alertmanager: files.alertmanager[0], nginx: files.nginx[0] };
}
