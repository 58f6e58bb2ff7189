import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const eb = mockClient(EventBridgeClient);

// config is read once per module graph, so the bus name is stubbed before a fresh graph is loaded.
async function loadWithBus(busName: string | undefined) {
  vi.stubEnv('EVENT_BUS_NAME', busName);
  vi.resetModules();
  return import('../../../../lib/aws/events.ts');
}

const event = { source: 'serverless-shop.orders', detailType: 'OrderPlaced', detail: { orderId: 12, total: 4999 } };

describe('publishEvent', () => {
  beforeEach(() => {
    eb.reset();
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('sends nothing and reports disabled when no event bus is configured', async () => {
    // Prepare
    const { publishEvent } = await loadWithBus(undefined);

    // Act
    const result = await publishEvent(event);

    // Assess
    expect(result).toBe('disabled');
    expect(eb.calls()).toHaveLength(0);
  });

  it('puts one entry on the configured bus with source, detail type and JSON detail', async () => {
    // Prepare
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const { publishEvent } = await loadWithBus('shop-bus');

    // Act
    const result = await publishEvent(event);

    // Assess
    expect(result).toBe('published');
    const calls = eb.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      Entries: [
        {
          EventBusName: 'shop-bus',
          Source: 'serverless-shop.orders',
          DetailType: 'OrderPlaced',
          Detail: JSON.stringify({ orderId: 12, total: 4999 }),
        },
      ],
    });
  });

  it('throws EventPublishError when the SDK call rejects', async () => {
    // Prepare
    const cause = new Error('connect ETIMEDOUT');
    eb.on(PutEventsCommand).rejects(cause);
    const { publishEvent, EventPublishError } = await loadWithBus('shop-bus');

    // Act
    const err = await publishEvent(event).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(EventPublishError);
    expect(err).toMatchObject({
      code: 'EVENT_PUBLISH_FAILED',
      details: { source: 'serverless-shop.orders', detailType: 'OrderPlaced' },
    });
    expect((err as Error).cause).toBe(cause);
  });

  it('throws EventPublishError with the entry error code when EventBridge reports a failed entry', async () => {
    // Prepare
    eb.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }],
    });
    const { publishEvent, EventPublishError } = await loadWithBus('shop-bus');

    // Act
    const err = await publishEvent(event).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(EventPublishError);
    expect(err).toMatchObject({
      code: 'EVENT_PUBLISH_FAILED',
      details: { errorCode: 'ThrottlingException', errorMessage: 'Rate exceeded' },
    });
  });
});
