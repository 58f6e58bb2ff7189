import { Counter } from 'prom-client';
import { registry } from './registry.ts';

export type Severity = 'warning' | 'critical';

export const errorsTotal = new Counter({
  name: 'errors_total',
  help: 'Failures that are bugs or outages (never caller mistakes), by type, component and severity.',
  labelNames: ['type', 'component', 'severity'] as const,
  registers: [registry],
});

export function countError(type: string, component: string, severity: Severity, by = 1): void {
  errorsTotal.inc({ type, component, severity }, by);
}
