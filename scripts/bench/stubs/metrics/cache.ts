// Bench-only stand-in for lib/metrics/cache.ts.
export type CacheOperation = 'get' | 'set' | 'del';
export type CacheResult = 'hit' | 'miss' | 'ok' | 'error';
export function observeCacheOperation(_operation: CacheOperation, _result: CacheResult, _seconds: number): void {}
