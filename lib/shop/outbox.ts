// The transactional outbox. An event is inserted in the transaction of the change it reports, so an order
// cannot exist without its OrderCreated, nor the event without its order. From here it goes to EventBridge:
// right after the commit (publishNow, one short try that spares consumers the wait), else from the scheduled
// relay, which retries with backoff until the bus accepts it. A row is locked while it is being published
// (FOR UPDATE SKIP LOCKED), so two relays, or a relay and publishNow, never send it twice. Delivery is still
// at least once: if the commit that marks a row published fails after PutEvents succeeded, the row goes out
// again, so consumers dedupe on the event's own identity (the order id of an OrderCreated).
import { db, transaction, type Queryable } from '../db/query.ts';
import { EventPublishError, publishEvent } from '../aws/events.ts';
import { AppError } from '../errors.ts';
import { eventMetrics, type DeliveryResult } from '../metrics/events.ts';
import { countError } from '../metrics/errors.ts';
import { log, describeError } from '../log.ts';

export type EventType = 'OrderCreated';
// Every type has a backlog gauge, at 0 when nothing waits, so a dashboard never shows a hole.
const EVENT_TYPES: readonly EventType[] = ['OrderCreated'];

export interface OutboxEvent {
  source: string;
  detailType: EventType;
  detail: object;
}

// The relay runs once a minute, so shorter delays round up to its next run. No jitter: there is one relay
// (reservedConcurrency 1), so retries cannot stampede, and a fixed schedule is one a test can check.
export const RETRY_BASE_MS = 30_000;
export const RETRY_CAP_MS = 15 * 60_000;

/** The wait after `attempts` failed attempts: 30 s, 1, 2, 4, 8 minutes, then every 15 minutes, forever. */
export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** (attempts - 1));
}

// A request tries once and briefly: the event is already safe. The relay has time for the SDK's own bounds.
const FAST_PATH_TIMEOUT_MS = 1000;
const RELAY_TIMEOUT_MS = 3000;
const RELAY_BATCH_SIZE = 25;
// Below the relay function's 30 s timeout (serverless.yml), with room for a last batch and the backlog count.
const RELAY_BUDGET_MS = 20_000;

type Clock = () => Date;
const systemClock: Clock = () => new Date();

type OutboxRow = { id: number; source: string; detail_type: string; detail: string; attempts: number };
const COLUMNS = 'id, source, detail_type, detail, attempts';
const pick = { operation: 'select', table: 'event_outbox' } as const;

interface Delivery {
  id: number;
  result: DeliveryResult;
  status: 'pending' | 'published' | 'skipped';
  attempts: number;
  /** null: unchanged. */
  nextAttemptAt: Date | null;
  /** null: unchanged, so a published row still says why it was late. */
  lastError: string | null;
  publishedAt: Date | null;
  error?: unknown;
}

/** Inside the caller's transaction: the event commits or rolls back with the change it reports. */
export async function enqueueEvent(tx: Queryable, event: OutboxEvent): Promise<number> {
  const [row] = await tx.query<{ id: number }>(
    { operation: 'insert', table: 'event_outbox' },
    'INSERT INTO event_outbox (source, detail_type, detail) VALUES ($1, $2, $3) RETURNING id',
    [event.source, event.detailType, JSON.stringify(event.detail)],
  );
  return row!.id;
}

/**
 * The fast path, after the commit: one bounded try, so that consumers need not wait for the relay. Never
 * throws: whatever happens here, the event is in the outbox and the relay will send it.
 */
export async function publishNow(id: number): Promise<void> {
  try {
    const [delivery] = await deliver(
      (tx) => tx.query<OutboxRow>(pick, `SELECT ${COLUMNS} FROM event_outbox WHERE id = $1 AND status = 'pending' FOR UPDATE SKIP LOCKED`, [id]),
      systemClock,
      FAST_PATH_TIMEOUT_MS,
    );
    if (delivery?.result === 'failed') log.warn('event left to the outbox relay', { eventId: id, ...describeError(delivery.error) });
  } catch (err) {
    log.warn('event left to the outbox relay', { eventId: id, ...describeError(err) });
  }
}

export interface RelayReport {
  published: number;
  failed: number;
  skipped: number;
  /** Rows still pending after the run, due or not. */
  pending: number;
}

/**
 * The scheduled relay: due rows, longest waiting first, in batches until none is due, the bus refuses a whole
 * batch (an outage: the next run tries again), or the run's time is up. Sets the backlog gauges at the end.
 */
export async function relayOutbox({ clock = systemClock, batchSize = RELAY_BATCH_SIZE } = {}): Promise<RelayReport> {
  const started = performance.now();
  const report: RelayReport = { published: 0, failed: 0, skipped: 0, pending: 0 };
  for (;;) {
    const batch = await deliver(
      (tx) =>
        tx.query<OutboxRow>(
          pick,
          `SELECT ${COLUMNS} FROM event_outbox WHERE status = 'pending' AND next_attempt_at <= $1
           ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [clock(), batchSize],
        ),
      clock,
      RELAY_TIMEOUT_MS,
    );
    for (const delivery of batch) report[delivery.result] += 1;
    const failed = batch.filter((d) => d.result === 'failed');
    if (failed.length > 0) log.warn('outbox events not published, retried later', { failed: failed.length, lastError: failed[0]!.lastError });
    if (batch.length < batchSize || failed.length === batch.length || performance.now() - started > RELAY_BUDGET_MS) break;
  }
  report.pending = await measureBacklog(clock());
  return report;
}

/** Locks what `select` picks, publishes it, records every outcome, and commits: then counts. */
async function deliver(select: (tx: Queryable) => Promise<OutboxRow[]>, clock: Clock, timeoutMs: number): Promise<Delivery[]> {
  const deliveries = await transaction('event_outbox', async (tx) => {
    const rows = await select(tx);
    const outcomes = await Promise.all(rows.map((row) => attempt(row, clock, timeoutMs)));
    if (outcomes.length > 0) await record(tx, outcomes);
    return outcomes;
  });
  for (const delivery of deliveries) {
    eventMetrics.delivered(delivery.result);
    if (delivery.result === 'failed') countError('event_publish_failed', 'events', 'warning');
  }
  return deliveries;
}

async function attempt(row: OutboxRow, clock: Clock, timeoutMs: number): Promise<Delivery> {
  const unchanged = { id: row.id, attempts: row.attempts, nextAttemptAt: null, lastError: null, publishedAt: null };
  try {
    const sent = await publishEvent({ source: row.source, detailType: row.detail_type, detail: JSON.parse(row.detail) as object }, { timeoutMs });
    if (sent === 'disabled') return { ...unchanged, result: 'skipped', status: 'skipped' };
    return { ...unchanged, result: 'published', status: 'published', attempts: row.attempts + 1, publishedAt: clock() };
  } catch (err) {
    const attempts = row.attempts + 1;
    const nextAttemptAt = new Date(clock().getTime() + retryDelayMs(attempts));
    return { ...unchanged, result: 'failed', status: 'pending', attempts, nextAttemptAt, lastError: errorSummary(err), error: err };
  }
}

/** Codes and names only (`EVENT_PUBLISH_FAILED: ThrottlingException`): SDK messages can quote ARNs and data. */
function errorSummary(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  const reason = err instanceof EventPublishError ? (err.details?.errorCode ?? (err.cause instanceof Error ? err.cause.name : undefined)) : undefined;
  const name = err instanceof AppError ? err.code : err.name;
  return (reason === undefined ? name : `${name}: ${String(reason)}`).slice(0, 200);
}

/** All outcomes in one statement, inside the transaction that holds the rows' locks. */
async function record(tx: Queryable, outcomes: Delivery[]): Promise<void> {
  await tx.query(
    { operation: 'update', table: 'event_outbox' },
    `UPDATE event_outbox o
     SET status = d.status, attempts = d.attempts, published_at = d.published_at,
         next_attempt_at = coalesce(d.next_attempt_at, o.next_attempt_at), last_error = coalesce(d.last_error, o.last_error)
     FROM unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::timestamptz[])
       AS d(id, status, attempts, next_attempt_at, last_error, published_at)
     WHERE o.id = d.id`,
    [
      outcomes.map((d) => d.id),
      outcomes.map((d) => d.status),
      outcomes.map((d) => d.attempts),
      outcomes.map((d) => d.nextAttemptAt),
      outcomes.map((d) => d.lastError),
      outcomes.map((d) => d.publishedAt),
    ],
  );
}

/** Sets the backlog gauges and answers the number of pending rows. */
async function measureBacklog(now: Date): Promise<number> {
  const rows = await db.query<{ detail_type: string; pending: number; oldest: Date }>(
    pick,
    "SELECT detail_type, count(*) AS pending, min(created_at) AS oldest FROM event_outbox WHERE status = 'pending' GROUP BY detail_type",
  );
  const types = new Set<string>([...EVENT_TYPES, ...rows.map((r) => r.detail_type)]);
  eventMetrics.backlog(
    [...types].map((detailType) => {
      const row = rows.find((r) => r.detail_type === detailType);
      return { detailType, pending: row?.pending ?? 0, oldestAgeSeconds: row ? Math.max(0, (now.getTime() - row.oldest.getTime()) / 1000) : 0 };
    }),
  );
  return rows.reduce((sum, r) => sum + r.pending, 0);
}
