// The deadline of publishEvent through the real SDK pipeline (retries included), against a local endpoint
// that accepts connections and never answers: a mocked client would not show whether the SDK honours it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

describe('publishEvent with a deadline', () => {
  let server: http.Server;
  let requests = 0;

  beforeAll(async () => {
    server = http.createServer(() => {
      requests += 1; // and never answer
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('gives up at the deadline, well before the client\'s own request timeout, with an EventPublishError', async () => {
    // Prepare
    const env = {
      EVENT_BUS_NAME: 'shop-bus',
      AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret-access-key',
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
    };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    vi.resetModules();
    const { publishEvent, EventPublishError } = await import('../../../../lib/aws/events.ts');
    const started = performance.now();

    // Act
    const err = await publishEvent({ source: 'test', detailType: 'OrderCreated', detail: { id: 1 } }, { timeoutMs: 300 }).catch((e: unknown) => e);

    // Assess
    const elapsedMs = performance.now() - started;
    expect(err).toBeInstanceOf(EventPublishError);
    expect(((err as Error).cause as Error).name).toBe('AbortError');
    expect(requests).toBe(1);
    expect(elapsedMs).toBeGreaterThanOrEqual(290);
    expect(elapsedMs).toBeLessThan(1500); // the client alone would wait 3 s per attempt
  });
});
