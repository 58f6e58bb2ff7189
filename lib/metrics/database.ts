import { Histogram } from 'prom-client';
import { registry } from './registry.ts';

export const dbQueryDuration = new Histogram({
  name: 'db_query_duration_seconds',
  help: 'Duration of database statements by operation and table.',
  labelNames: ['operation', 'table'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export function observeQuery(labels: { operation: string; table: string }, seconds: number): void {
  dbQueryDuration.observe(labels, seconds);
}
