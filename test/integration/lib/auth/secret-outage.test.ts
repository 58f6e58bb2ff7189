// A Secrets Manager outage while the token key is fetched (JWT_SECRET_ID, as deployed), through the real
// login and create-order handlers against real Postgres: a clean 503 with nothing written, then normal
// answers once Secrets Manager is back, without a new container.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Read by lib/config.ts when the first import below loads it.
vi.hoisted(() => {
  process.env.JWT_SECRET_ID = 'serverless-shop/jwt-outage-test';
  delete process.env.JWT_SECRET;
  delete process.env.PUSHGATEWAY_URL; // the handlers' push is not what these tests look at
});

import { handler as login } from '../../../../functions/users/login.ts';
import { handler as register } from '../../../../functions/users/register.ts';
import { handler as createOrder } from '../../../../functions/orders/create.ts';
import { hashPassword } from '../../../../lib/auth/passwords.ts';
import { db } from '../../../../lib/db/query.ts';
import { closePool } from '../../../../lib/db/pool.ts';
import { aProduct, unique } from '../../../support/fixtures.ts';
import { httpEvent, lambdaContext } from '../../../../scripts/support/lambda.ts';

const sm = mockClient(SecretsManagerClient);
afterAll(closePool);

const SECRET = 'a-token-key-from-secrets-manager-0123456789';
// Well formed, never checked: the key is fetched before any token is verified.
const ANY_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';

describe('a Secrets Manager outage', () => {
  it('answers login, registration and order creation with a 503 JSON error, writes nothing, and serves both again once it is back', async () => {
    // Prepare: an account made directly, since registering issues a token too
    const email = `${unique('outage')}@example.com`;
    const [user] = await db.query<{ id: number }>(
      { operation: 'insert', table: 'users' },
      "INSERT INTO users (email, password_hash, name) VALUES ($1, $2, 'Outage Test') RETURNING id",
      [email, await hashPassword('correct-horse')],
    );
    const product = await aProduct({ stock: 3 });
    const credentials = { body: { email, password: 'correct-horse' } };
    const order = (token: string) => httpEvent('POST /api/orders', { body: { items: [{ productId: product.id, quantity: 1 }] }, headers: { authorization: `Bearer ${token}` } });
    const ordersOfUser = async () =>
      (await db.query<{ n: number }>({ operation: 'select', table: 'orders' }, 'SELECT count(*) AS n FROM orders WHERE user_id = $1', [user!.id]))[0]!.n;
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('Rate exceeded for arn:aws:secretsmanager:eu-west-1:123456789012'), { name: 'ThrottlingException' }));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const newcomer = { body: { email: `${unique('outage-new')}@example.com`, password: 'correct-horse', name: 'New' } };
    const accountsOf = async (address: string) =>
      (await db.query<{ n: number }>({ operation: 'select', table: 'users' }, 'SELECT count(*) AS n FROM users WHERE email = $1', [address]))[0]!.n;

    // Act
    const refusedLogin = await login(httpEvent('POST /api/users/login', credentials), lambdaContext());
    const refusedRegistration = await register(httpEvent('POST /api/users/register', newcomer), lambdaContext());
    const refusedOrder = await createOrder(order(ANY_TOKEN), lambdaContext());

    // Assess
    expect(await accountsOf(newcomer.body.email)).toBe(0); // or the retry below would hear "email taken"
    for (const response of [refusedLogin, refusedRegistration, refusedOrder]) {
      expect(response.statusCode).toBe(503);
      expect(response.headers['Retry-After']).toBe('1');
      expect(JSON.parse(response.body!)).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: 'secret unavailable' } }); // no stack, no cause
    }
    expect(await ordersOfUser()).toBe(0);

    // Act: Secrets Manager is back
    sm.reset();
    sm.on(GetSecretValueCommand, { SecretId: 'serverless-shop/jwt-outage-test' }).resolves({ SecretString: SECRET });
    const session = await login(httpEvent('POST /api/users/login', credentials), lambdaContext());
    const { token } = JSON.parse(session.body!) as { token: string };
    const created = await createOrder(order(token), lambdaContext());
    const registered = await register(httpEvent('POST /api/users/register', newcomer), lambdaContext());
    logged.mockRestore();

    // Assess
    expect(session.statusCode).toBe(200);
    expect(created.statusCode).toBe(201);
    expect(registered.statusCode).toBe(201);
    expect(await ordersOfUser()).toBe(1);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1); // fetched once, then kept for the container
  });
});
