import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { isDatabaseOutage, toDatabaseError } from '../../../../lib/db/errors.ts';
import { ServiceUnavailableError } from '../../../../lib/errors.ts';

describe('database outages', () => {
  it('turns a refused connection into a ServiceUnavailableError', async () => {
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    const failure = await client.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isDatabaseOutage(failure)).toBe(true);
    expect(toDatabaseError(failure)).toBeInstanceOf(ServiceUnavailableError);
  });

  it('leaves a SQL error (a bug) as it is', async () => {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    const failure = await client.query('SELECT no_such_column FROM products').catch((err: unknown) => err);
    await client.end();
    expect(isDatabaseOutage(failure)).toBe(false);
    expect(toDatabaseError(failure)).toBe(failure);
  });
});
