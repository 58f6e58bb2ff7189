// Bench-only stand-in for lib/metrics/database.ts.
export interface PoolCounts {
  total: number;
  idle: number;
  waiting: number;
}
export function observeQuery(_labels: { operation: string; table: string }, _seconds: number): void {}
export function reportPool(_read: () => PoolCounts): void {}
