// Bench-only stand-in for lib/metrics/errors.ts.
export type Severity = 'warning' | 'critical';
export function countError(_type: string, _component: string, _severity: Severity): void {}
