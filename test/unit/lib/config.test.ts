import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config.ts';

describe('configuration', () => {
  it('selects the embedded defaults when the URLs are unset or empty', () => {
    const config = loadConfig({ DATABASE_URL: '', REDIS_URL: '' });
    expect(config.database.url).toBeUndefined();
    expect(config.cache.redisUrl).toBeUndefined();
    expect(config.database.embeddedPort).toBe(54329);
  });

  it('parses numbers strictly', () => {
    expect(loadConfig({ PUSH_TIMEOUT_MS: '250' }).metrics.pushTimeoutMs).toBe(250);
    expect(() => loadConfig({ PUSH_TIMEOUT_MS: '250ms' })).toThrow(/PUSH_TIMEOUT_MS/);
    expect(() => loadConfig({ PUSH_TIMEOUT_MS: '0' })).toThrow(/PUSH_TIMEOUT_MS/);
  });

  it('defers gateway pushes to once per gateway scrape (5 s) unless told 0 (every invocation)', () => {
    expect(loadConfig({}).metrics.pushIntervalMs).toBe(5000);
    expect(loadConfig({ METRICS_PUSH_INTERVAL_MS: '0' }).metrics.pushIntervalMs).toBe(0);
    expect(() => loadConfig({ METRICS_PUSH_INTERVAL_MS: '-1' })).toThrow(/METRICS_PUSH_INTERVAL_MS/);
  });

  it('refuses to run deployed without a database or a token secret', () => {
    const deployed = { AWS_LAMBDA_FUNCTION_NAME: 'serverless-shop-dev-getProduct' };
    expect(() => loadConfig({ ...deployed, DATABASE_URL: 'postgres://db/shop' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ ...deployed, JWT_SECRET_ID: 'shop/jwt' })).toThrow(/DATABASE_URL/);
    expect(loadConfig({ ...deployed, JWT_SECRET_ID: 'shop/jwt', DATABASE_URL: 'postgres://db/shop' }).auth.jwtSecret).toBeUndefined();
  });

  it('never uses the development secret when deployed with a secret id', () => {
    const config = loadConfig({ AWS_LAMBDA_FUNCTION_NAME: 'f', IS_OFFLINE: 'true' });
    expect(config.local).toBe(true);
    expect(config.auth.jwtSecret).toBeDefined();
  });
});
