// The OrderCreated outbox against real Postgres, with EventBridge mocked (aws-sdk-client-mock). Other test
// files create orders in the same database at the same time, and a relay here may send their rows too, so
// every assertion looks only at this file's rows and calls (by order id, or by a source made for the test).
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

// Read by lib/config.ts when the first import below loads it.
vi.hoisted(() => {
  process.env.EVENT_BUS_NAME = 'outbox-test-bus';
  delete process.env.PUSHGATEWAY_URL; // the handler's push is not what these tests look at
});

import { handler as createOrderHandler } from '../../../../functions/orders/create.ts';
import { createOrder } from '../../../../lib/shop/orders.ts';
import { enqueueEvent, relayOutbox, retryDelayMs, type EventType } from '../../../../lib/shop/outbox.ts';
import { OutOfStockError } from '../../../../lib/shop/errors.ts';
import { issueToken } from '../../../../lib/auth/tokens.ts';
import { db, transaction } from '../../../../lib/db/query.ts';
import { closePool } from '../../../../lib/db/pool.ts';
import { registry } from '../../../../lib/metrics/registry.ts';
import { aCustomer, aProduct, unique } from '../../../support/fixtures.ts';
import { httpEvent, lambdaContext } from '../../../../scripts/support/lambda.ts';

const eb = mockClient(EventBridgeClient);
afterAll(async () => {
  // Rows this file left pending on purpose (far-off retries) are not left for the next run's relays.
  await db.query({ operation: 'update', table: 'event_outbox' }, "UPDATE event_outbox SET status = 'skipped' WHERE status = 'pending' AND source LIKE $1", [
    `test.outbox-${process.pid}-%`,
  ]);
  await closePool();
});
beforeEach(() => {
  eb.reset();
});

type Entry = NonNullable<PutEventsCommandInput['Entries']>[number];
const accepted: PutEventsCommandOutput = { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }], $metadata: {} };
const sdkError = (name: string) => Object.assign(new Error(`${name} (message that must not reach the table)`), { name });
/** EventBridge answering per entry: `refuse` decides which entries fail, and how. */
const bus = (refuse: (entry: Entry) => 'throw' | 'throttle' | undefined) =>
  eb.on(PutEventsCommand).callsFake(async ({ Entries }: PutEventsCommandInput) => {
    const outcome = refuse(Entries![0]!);
    if (outcome === 'throw') throw sdkError('InternalException');
    if (outcome === 'throttle') return { FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }] };
    return accepted;
  });
const sentEntries = (where: (entry: Entry) => boolean) =>
  eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries![0]!).filter(where);

type OutboxRow = { id: number; status: string; attempts: number; next_attempt_at: Date; last_error: string | null; published_at: Date | null };
const rowsWhere = (where: string, values: unknown[]) =>
  db.query<OutboxRow>(
    { operation: 'select', table: 'event_outbox' },
    `SELECT id, status, attempts, next_attempt_at, last_error, published_at FROM event_outbox WHERE ${where} ORDER BY id`,
    values,
  );
const eventOfOrder = async (orderId: number) => (await rowsWhere("detail_type = 'OrderCreated' AND (detail::jsonb->>'id')::bigint = $1", [orderId]))[0];

/** `count` rows of a source of their own, so that only this test's bus rules apply to them. */
async function enqueueTestEvents(count: number, detailType = 'OrderCreated'): Promise<string> {
  const source = unique('test.outbox');
  await transaction('event_outbox', async (tx) => {
    for (let n = 0; n < count; n++) await enqueueEvent(tx, { source, detailType: detailType as EventType, detail: { n } });
  });
  return source;
}

const sample = async (name: string, labels: Record<string, string>) =>
  (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value ?? 0;
const later = (from: Date, ms: number) => new Date(from.getTime() + ms);

describe('the OrderCreated outbox', () => {
  it('answers 201 when PutEvents fails, keeps the event pending with attempts=1, and the relay publishes it once, after the backoff', async () => {
    // Prepare
    const product = await aProduct({ stock: 5 });
    const buyer = await aCustomer();
    const headers = { authorization: `Bearer ${await issueToken(buyer)}` };
    let busDown = true;
    bus(() => (busDown ? 'throw' : undefined));

    // Act: the request's own try fails
    const response = await createOrderHandler(httpEvent('POST /api/orders', { body: { items: [{ productId: product.id, quantity: 1 }] }, headers }), lambdaContext());

    // Assess
    expect(response.statusCode).toBe(201);
    const order = JSON.parse(response.body!) as { id: number };
    const pending = (await eventOfOrder(order.id))!;
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, last_error: 'EVENT_PUBLISH_FAILED: InternalException', published_at: null });

    // Act: the bus is back; the relay waits for the row's turn, then sends it, once
    busDown = false;
    const early = await relayOutbox({ clock: () => later(pending.next_attempt_at, -1) });
    const stillPending = (await eventOfOrder(order.id))!;
    const due = await relayOutbox({ clock: () => pending.next_attempt_at });
    await relayOutbox({ clock: () => later(pending.next_attempt_at, 3_600_000) });

    // Assess
    expect(early.pending).toBeGreaterThanOrEqual(1);
    expect(stillPending.status).toBe('pending');
    expect(due.published).toBeGreaterThanOrEqual(1);
    const ofThisOrder = sentEntries((e) => e.DetailType === 'OrderCreated' && (JSON.parse(e.Detail!) as { id: number }).id === order.id);
    expect(ofThisOrder).toHaveLength(2); // the failed try in the request, and the relay's
    expect(JSON.parse(ofThisOrder[1]!.Detail!)).toEqual({ ...order, userId: buyer.userId });
    expect(ofThisOrder[1]).toMatchObject({ EventBusName: 'outbox-test-bus', Source: 'serverless-shop.orders' });
    expect(await eventOfOrder(order.id)).toMatchObject({
      status: 'published',
      attempts: 2,
      published_at: pending.next_attempt_at,
      last_error: 'EVENT_PUBLISH_FAILED: InternalException', // why it was late stays on the row
    });
  });

  it('publishes in the request when the bus answers, so the relay finds nothing to send', async () => {
    // Prepare
    const product = await aProduct();
    const buyer = await aCustomer();
    bus(() => undefined);

    // Act
    const { order } = await createOrder(buyer, { items: [{ productId: product.id, quantity: 2 }] });

    // Assess
    expect(await eventOfOrder(order.id)).toMatchObject({ status: 'published', attempts: 1, last_error: null });
    expect(sentEntries((e) => e.Detail!.includes(`"userId":${buyer.userId}`))).toHaveLength(1);
  });

  it('writes one event per order: none for a refused order, none for an idempotent replay', async () => {
    // Prepare
    const product = await aProduct({ stock: 1 });
    const buyer = await aCustomer();
    bus(() => undefined);
    const request = { items: [{ productId: product.id, quantity: 1 }] };
    const key = unique('key');

    // Act
    const first = await createOrder(buyer, request, key);
    const replay = await createOrder(buyer, request, key);
    const refused = await createOrder(buyer, request).catch((e: unknown) => e);

    // Assess
    expect(replay.replayed).toBe(true);
    expect(refused).toBeInstanceOf(OutOfStockError);
    const events = await rowsWhere("detail_type = 'OrderCreated' AND (detail::jsonb->>'userId')::bigint = $1", [buyer.userId]);
    expect(events).toHaveLength(1);
    expect(await eventOfOrder(first.order.id)).toBeDefined();
  });

  it('treats a PutEvents answer with FailedEntryCount > 0 as a failure, and retries the event', async () => {
    // Prepare
    const source = await enqueueTestEvents(1);
    let throttled = true;
    bus((e) => (e.Source === source && throttled ? 'throttle' : undefined));
    const now = later(new Date(), 1000);

    // Act
    const report = await relayOutbox({ clock: () => now });
    const [failed] = await rowsWhere('source = $1', [source]);
    throttled = false;
    await relayOutbox({ clock: () => failed!.next_attempt_at });

    // Assess
    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(failed).toMatchObject({ status: 'pending', attempts: 1, last_error: 'EVENT_PUBLISH_FAILED: ThrottlingException' });
    expect(failed!.next_attempt_at).toEqual(later(now, 30_000));
    expect((await rowsWhere('source = $1', [source]))[0]).toMatchObject({ status: 'published', attempts: 2 });
    expect(sentEntries((e) => e.Source === source)).toHaveLength(2);
  });

  it('retries on the backoff schedule and never before a row is due', async () => {
    // Prepare
    const source = await enqueueTestEvents(1);
    bus((e) => (e.Source === source ? 'throw' : undefined));
    // A first due time a Date can express exactly (the insert's now() has microseconds).
    let due = later(new Date(), 1000);
    await db.query({ operation: 'update', table: 'event_outbox' }, 'UPDATE event_outbox SET next_attempt_at = $2 WHERE source = $1', [source, due]);

    for (let attempt = 1; attempt <= 7; attempt++) {
      // Act
      await relayOutbox({ clock: () => later(due, -1) });
      const triedEarly = sentEntries((e) => e.Source === source).length;
      await relayOutbox({ clock: () => due });
      const [row] = await rowsWhere('source = $1', [source]);

      // Assess
      expect(triedEarly).toBe(attempt - 1);
      expect(sentEntries((e) => e.Source === source)).toHaveLength(attempt);
      expect(row).toMatchObject({ status: 'pending', attempts: attempt });
      expect((row!.next_attempt_at.getTime() - due.getTime()) / 1000).toBe([30, 60, 120, 240, 480, 900, 900][attempt - 1]);
      due = row!.next_attempt_at;
    }
  });

  it('lets two relays share 50 pending events without sending any twice', async () => {
    // Prepare
    const source = await enqueueTestEvents(50);
    // The first calls wait until 20 are in flight: two full batches of 10 at once, which only happens when
    // each relay holds its own rows. Were the second relay blocked by the first one's locks, they would
    // wait out the 2 s instead.
    let inFlight = 0;
    let together = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    eb.on(PutEventsCommand).callsFake(async () => {
      if (++inFlight === 20) {
        together = true;
        release();
      }
      await Promise.race([released, new Promise((resolve) => setTimeout(resolve, 2000))]);
      inFlight -= 1;
      return accepted;
    });
    const now = later(new Date(), 1000);

    // Act
    const reports = await Promise.all([relayOutbox({ clock: () => now, batchSize: 10 }), relayOutbox({ clock: () => now, batchSize: 10 })]);

    // Assess
    const sent = sentEntries((e) => e.Source === source).map((e) => (JSON.parse(e.Detail!) as { n: number }).n);
    expect(sent).toHaveLength(50);
    expect(new Set(sent).size).toBe(50);
    const rows = await rowsWhere('source = $1', [source]);
    expect(rows.every((r) => r.status === 'published' && r.attempts === 1)).toBe(true);
    expect(together).toBe(true);
    for (const report of reports) expect(report.published).toBeGreaterThan(0);
  });

  it('counts every delivery in events_published_total and sets the backlog gauges at the end of a run', async () => {
    // Prepare: a detail type of this test's own, so the gauge reads only its rows
    const detailType = `GaugeTest${process.pid}${Date.now()}`;
    const source = await enqueueTestEvents(3, detailType);
    bus((e) => (e.Source === source ? 'throw' : undefined));
    const before = { published: await sample('events_published_total', { result: 'published' }), failed: await sample('events_published_total', { result: 'failed' }) };
    const now = later(new Date(), 60_000);

    // Act
    const report = await relayOutbox({ clock: () => now });

    // Assess
    expect(report.failed).toBeGreaterThanOrEqual(3);
    expect(await sample('events_published_total', { result: 'failed' })).toBe(before.failed + report.failed);
    expect(await sample('events_published_total', { result: 'published' })).toBe(before.published + report.published);
    expect(await sample('outbox_pending_events', { detail_type: detailType })).toBe(3);
    const age = await sample('outbox_oldest_pending_event_age_seconds', { detail_type: detailType });
    expect(age).toBeGreaterThanOrEqual(59);
    expect(age).toBeLessThan(120);
    expect(await sample('outbox_pending_events', { detail_type: 'OrderCreated' })).toBeGreaterThanOrEqual(0); // present even at 0
  });
});

describe('the outbox with no event bus configured', () => {
  // Skipped is final (the relay picks pending rows only), so a local outbox never grows a backlog to retry.
  it('marks events skipped, calls no AWS API and counts no failure', async () => {
    // Prepare: a module graph whose config has no EVENT_BUS_NAME
    vi.stubEnv('EVENT_BUS_NAME', undefined);
    vi.resetModules();
    const local = {
      orders: await import('../../../../lib/shop/orders.ts'),
      outbox: await import('../../../../lib/shop/outbox.ts'),
      query: await import('../../../../lib/db/query.ts'),
      pool: await import('../../../../lib/db/pool.ts'),
      registry: (await import('../../../../lib/metrics/registry.ts')).registry,
    };
    const count = async (result: string) =>
      (await local.registry.getSingleMetric('events_published_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    try {
      const product = await aProduct();
      const buyer = await aCustomer();
      const source = unique('test.outbox');
      await local.query.transaction('event_outbox', (tx) => local.outbox.enqueueEvent(tx, { source, detailType: 'OrderCreated', detail: { n: 1 } }));

      // Act
      const { order } = await local.orders.createOrder(buyer, { items: [{ productId: product.id, quantity: 1 }] });
      const report = await local.outbox.relayOutbox();

      // Assess
      expect(await eventOfOrder(order.id)).toMatchObject({ status: 'skipped', attempts: 0, published_at: null });
      expect((await rowsWhere('source = $1', [source]))[0]).toMatchObject({ status: 'skipped', attempts: 0 });
      expect(report.skipped).toBeGreaterThanOrEqual(1);
      expect(report.failed).toBe(0);
      expect(await count('skipped')).toBe(1 + report.skipped); // the order's, in the request, and the relay's
      expect(await count('failed')).toBe(0);
      expect(eb.calls()).toHaveLength(0);
    } finally {
      await local.pool.closePool();
      vi.unstubAllEnvs();
    }
  });
});
