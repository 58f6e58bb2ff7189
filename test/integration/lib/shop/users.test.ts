import { afterAll, describe, expect, it } from 'vitest';
import { login, me, register } from '../../../../lib/shop/users.ts';
import { verifyToken } from '../../../../lib/auth/tokens.ts';
import { closePool } from '../../../../lib/db/pool.ts';
import { registry } from '../../../../lib/metrics/registry.ts';
import { EmailTakenError, InvalidCredentialsError } from '../../../../lib/shop/errors.ts';
import { unique } from '../../../support/fixtures.ts';
import { TEST_ADMIN } from '../../../support/test-env.ts';

afterAll(closePool);

const logins = async (result: string) =>
  (await registry.getSingleMetric('user_logins_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

describe('accounts', () => {
  it('registers a customer and returns a token for that customer', async () => {
    const email = `${unique('new')}@Example.com`;
    const session = await register({ email, password: 'long-enough', name: 'New Customer' });
    expect(session.user).toEqual({ id: expect.any(Number), email: email.toLowerCase(), name: 'New Customer', role: 'customer' });
    expect(await verifyToken(session.token)).toEqual({ userId: session.user.id, role: 'customer' });
    expect(await me({ userId: session.user.id, role: 'customer' })).toEqual(session.user);
  });

  it('refuses a second account for the same email in any letter case', async () => {
    const email = `${unique('dup')}@example.com`;
    await register({ email, password: 'long-enough', name: 'First' });
    await expect(register({ email: email.toUpperCase(), password: 'long-enough', name: 'Second' })).rejects.toBeInstanceOf(EmailTakenError);
  });

  it('logs in with the right password and counts successes and failures', async () => {
    const email = `${unique('login')}@example.com`;
    await register({ email, password: 'right-password', name: 'L' });
    const [ok0, bad0] = [await logins('success'), await logins('failure')];

    expect((await login({ email, password: 'right-password' })).user.email).toBe(email);
    await expect(login({ email, password: 'wrong-password' })).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(login({ email: `${unique('nobody')}@example.com`, password: 'whatever1' })).rejects.toBeInstanceOf(InvalidCredentialsError);

    expect(await logins('success')).toBe(ok0 + 1);
    expect(await logins('failure')).toBe(bad0 + 2);
  });

  it('seeds the admin from ADMIN_EMAIL and ADMIN_PASSWORD', async () => {
    const session = await login(TEST_ADMIN);
    expect(session.user.role).toBe('admin');
  });
});
