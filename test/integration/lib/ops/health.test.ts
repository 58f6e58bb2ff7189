// GET /healthz through the real handler, in containers pointed at servers that answer and at ports where
// nothing listens: the database and the cache are each reached through their own ping().
import { describe, expect, it } from 'vitest';
import { FunctionContainer } from '../../../support/function-container.ts';
import { freePort } from '../../../../scripts/servers/process.ts';

const redisUrl = process.env.REDIS_URL;

async function healthz(env: Record<string, string>) {
  const container = new FunctionContainer({ PUSHGATEWAY_URL: '', AWS_LAMBDA_FUNCTION_NAME: 'health-check', LOG_LEVEL: 'error', ...env });
  try {
    const reply = await container.call('GET /healthz');
    return { status: reply.status, body: JSON.parse(reply.body) as { status: string; checks: Record<string, Record<string, unknown>> } };
  } finally {
    await container.terminate();
  }
}

describe.runIf(redisUrl)('GET /healthz', () => {
  it('is 200 ok when Postgres and Redis answer', async () => {
    const { status, body } = await healthz({ DATABASE_URL: process.env.DATABASE_URL!, REDIS_URL: redisUrl! });
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      checks: {
        database: { ok: true, latencyMs: expect.any(Number) },
        cache: { ok: true, latencyMs: expect.any(Number), kind: 'redis' },
        pushgateway: { ok: true, latencyMs: 0, configured: false },
      },
    });
  });

  it('is 503 down when Postgres does not answer', async () => {
    const { status, body } = await healthz({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, REDIS_URL: redisUrl! });
    expect(status).toBe(503);
    expect(body.status).toBe('down');
    expect(body.checks.database).toEqual({ ok: false, latencyMs: expect.any(Number), error: 'database unavailable' });
    expect(body.checks.cache).toMatchObject({ ok: true, kind: 'redis' });
  });

  it('is 200 degraded when only Redis does not answer', async () => {
    const { status, body } = await healthz({ DATABASE_URL: process.env.DATABASE_URL!, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.checks.database).toMatchObject({ ok: true });
    expect(body.checks.cache).toEqual({ ok: false, latencyMs: expect.any(Number), error: expect.any(String), kind: 'redis' });
  });
});
