// Delivery of domain events from the outbox (lib/shop/outbox.ts) to EventBridge.
import { Counter, Gauge } from 'prom-client';
import { registry } from './registry.ts';

export type DeliveryResult = 'published' | 'failed' | 'skipped';

export const eventsPublished = new Counter({
  name: 'events_published_total',
  help: 'Outbox events handed to EventBridge, by result: published (accepted), failed (kept for a retry), skipped (no event bus configured).',
  labelNames: ['result'] as const,
  registers: [registry],
});
// Labelled so that only the relay's container, which sets them, exports a series: any other container
// would show a constant 0 for a backlog it never measured.
export const outboxPending = new Gauge({
  name: 'outbox_pending_events',
  help: 'Outbox events not yet published, by detail type, as counted at the end of the last relay run.',
  labelNames: ['detail_type'] as const,
  registers: [registry],
});
export const outboxOldestAge = new Gauge({
  name: 'outbox_oldest_pending_event_age_seconds',
  help: 'Age of the oldest outbox event not yet published, by detail type (0 when none), at the end of the last relay run.',
  labelNames: ['detail_type'] as const,
  registers: [registry],
});

for (const result of ['published', 'failed', 'skipped'] as const) eventsPublished.inc({ result }, 0);

export interface Backlog {
  detailType: string;
  pending: number;
  oldestAgeSeconds: number;
}

export const eventMetrics = {
  delivered(result: DeliveryResult): void {
    eventsPublished.inc({ result });
  },
  backlog(rows: Backlog[]): void {
    for (const row of rows) {
      outboxPending.set({ detail_type: row.detailType }, row.pending);
      outboxOldestAge.set({ detail_type: row.detailType }, row.oldestAgeSeconds);
    }
  },
};
