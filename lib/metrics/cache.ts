import { Counter, Histogram } from 'prom-client';
import { registry } from './registry.ts';

export type CacheOperation = 'get' | 'set' | 'del';
export type CacheResult = 'hit' | 'miss' | 'ok' | 'error';

export const cacheOperations = new Counter({
  name: 'cache_operations_total',
  help: 'Cache operations by operation and result; errors mean the request was served from the database.',
  labelNames: ['operation', 'result'] as const,
  registers: [registry],
});

export const cacheDuration = new Histogram({
  name: 'cache_operation_duration_seconds',
  help: 'Duration of cache operations, including ones that timed out.',
  labelNames: ['operation'] as const,
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
  registers: [registry],
});

// Hit ratios and error rates are divisions: every pair must exist at 0 before the first event.
for (const result of ['hit', 'miss', 'error'] as const) cacheOperations.inc({ operation: 'get', result }, 0);
for (const operation of ['set', 'del'] as const) {
  for (const result of ['ok', 'error'] as const) cacheOperations.inc({ operation, result }, 0);
}

export function observeCacheOperation(operation: CacheOperation, result: CacheResult, seconds: number): void {
  cacheOperations.inc({ operation, result });
  cacheDuration.observe({ operation }, seconds);
}
