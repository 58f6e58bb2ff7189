import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const database = vi.hoisted(() => ({ ready: vi.fn(async () => {}), ping: vi.fn(async () => {}) }));
const cache = vi.hoisted(() => ({ cacheKind: vi.fn(() => 'redis' as const), ping: vi.fn(async () => {}) }));
vi.mock('../../../../lib/db/ping.ts', () => database);
vi.mock('../../../../lib/cache/index.ts', () => cache);
// A unit test reaches no gateway, even where PUSHGATEWAY_URL is set.
vi.mock('../../../../packages/middy-pushgateway/src/gateway.ts', () => ({ authHeaders: () => ({}), gatewayRequest: async () => {} }));

const { checkHealth } = await import('../../../../lib/ops/health.ts');

const down = (message: string) => () => Promise.reject(new Error(message));

describe('the health check', () => {
  afterEach(() => {
    vi.useRealTimers();
    database.ping.mockReset().mockResolvedValue(undefined);
    cache.ping.mockReset().mockResolvedValue(undefined);
  });

  it('is ok when the database and the cache answer', async () => {
    const health = await checkHealth();
    expect(health.status).toBe('ok');
    expect(health.checks.database).toEqual({ ok: true, latencyMs: expect.any(Number) });
    expect(health.checks.cache).toEqual({ ok: true, latencyMs: expect.any(Number), kind: 'redis' });
    expect(database.ready).toHaveBeenCalled();
  });

  it('is down when the database does not answer, whatever the cache does', async () => {
    database.ping.mockImplementation(down('connect ECONNREFUSED 127.0.0.1:5432'));
    const health = await checkHealth();
    expect(health.status).toBe('down');
    expect(health.checks.database).toEqual({ ok: false, latencyMs: expect.any(Number), error: 'connect ECONNREFUSED 127.0.0.1:5432' });
  });

  it('is degraded, not down, when only the cache does not answer', async () => {
    cache.ping.mockImplementation(down('Connection is closed.'));
    const health = await checkHealth();
    expect(health.status).toBe('degraded');
    expect(health.checks.cache).toEqual({ ok: false, latencyMs: expect.any(Number), error: 'Connection is closed.', kind: 'redis' });
  });

  it('gives up on a dependency that hangs after one second', async () => {
    vi.useFakeTimers();
    database.ping.mockImplementation(() => new Promise(() => {}));
    const checked = checkHealth();
    await vi.advanceTimersByTimeAsync(1000);
    const health = await checked;
    expect(health.status).toBe('down');
    expect(health.checks.database.error).toBe('no answer within 1000 ms');
  });

  it('reaches the database and the cache only through the ping modules they own', () => {
    const dir = path.join(import.meta.dirname, '../../../../lib/ops');
    const imports = readdirSync(dir).flatMap((file) =>
      [...readFileSync(path.join(dir, file), 'utf8').matchAll(/from '\.\.\/(db|cache)\/([^']+)'/g)].map((m) => `${m[1]}/${m[2]}`),
    );
    expect([...new Set(imports)].sort()).toEqual(['cache/index.ts', 'db/ping.ts']);
  });
});
