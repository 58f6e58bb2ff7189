// The Prometheus exporters of the stack (Debian packages) on loopback, each ready once it serves /metrics.
import { httpOk, type Launch } from './process.ts';

const exporter = (name: string, port: number, args: string[], env?: NodeJS.ProcessEnv): Launch => ({
  name: `${name} on 127.0.0.1:${port}`,
  command: `prometheus-${name}`,
  args,
  env,
  ready: () => httpOk(`http://127.0.0.1:${port}/metrics`),
});

export const postgresExporterLaunch = (port: number, databaseUrl: string): Launch =>
  exporter('postgres-exporter', port, [`--web.listen-address=127.0.0.1:${port}`], { ...process.env, DATA_SOURCE_NAME: `${databaseUrl}?sslmode=disable` });

export const redisExporterLaunch = (port: number, redisUrl: string): Launch =>
  exporter('redis-exporter', port, [`-redis.addr=${redisUrl}`, `-web.listen-address=127.0.0.1:${port}`]);

// No textfile collector: there is no directory of ours for it to read.
export const nodeExporterLaunch = (port: number): Launch =>
  exporter('node-exporter', port, [`--web.listen-address=127.0.0.1:${port}`, '--no-collector.textfile']);
