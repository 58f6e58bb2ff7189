import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UnauthorizedError } from '../../../../lib/auth/errors.ts';
import { issueToken, parseBearer, verifyToken } from '../../../../lib/auth/tokens.ts';
import { config } from '../../../../lib/config.ts';

// Under vitest no JWT_SECRET_ID is set, so config falls back to its local development secret.
const secret = new TextEncoder().encode(config.auth.jwtSecret);
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

function craft(claims: Record<string, unknown> = {}) {
  return new SignJWT({ role: 'customer', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('42')
    .setIssuer('serverless-shop')
    .setAudience('serverless-shop-api')
    .setIssuedAt()
    .setExpirationTime(now() + 600);
}

async function expectUnauthorized(token: string) {
  const err = await verifyToken(token).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnauthorizedError);
  expect(err).toMatchObject({ code: 'UNAUTHORIZED', message: 'invalid or expired token' });
}

describe('issueToken / verifyToken', () => {
  it('round-trips a principal through a token', async () => {
    // Prepare
    const token = await issueToken({ userId: 7, role: 'admin' });

    // Act
    const principal = await verifyToken(token);

    // Assess
    expect(principal).toEqual({ userId: 7, role: 'admin' });
  });

  it('issues HS256 tokens with subject, role, issuer, audience and the configured lifetime', async () => {
    // Act
    const token = await issueToken({ userId: 7, role: 'customer' });

    // Assess
    const claims = decodeJwt(token);
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    expect(claims).toMatchObject({ sub: '7', role: 'customer', iss: 'serverless-shop', aud: 'serverless-shop-api' });
    expect(claims.exp! - claims.iat!).toBe(config.auth.tokenTtlSeconds);
  });

  it('accepts a token crafted with the right secret and claims', async () => {
    // Prepare
    const token = await craft().sign(secret);

    // Act
    const principal = await verifyToken(token);

    // Assess
    expect(principal).toEqual({ userId: 42, role: 'customer' });
  });

  it('rejects an expired token', async () => {
    // Prepare
    const token = await craft().setIssuedAt(now() - 7200).setExpirationTime(now() - 3600).sign(secret);

    // Act + Assess
    await expectUnauthorized(token);
  });

  it('rejects a token whose signature was tampered with', async () => {
    // Prepare
    const token = await issueToken({ userId: 7, role: 'customer' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;

    // Act + Assess
    await expectUnauthorized(`${header}.${payload}.${flipped}`);
  });

  it('rejects a token whose payload was changed after signing', async () => {
    // Prepare
    const token = await issueToken({ userId: 7, role: 'customer' });
    const [header, , signature] = token.split('.') as [string, string, string];
    const forged = b64url({ ...decodeJwt(token), role: 'admin' });

    // Act + Assess
    await expectUnauthorized(`${header}.${forged}.${signature}`);
  });

  it('rejects an unsigned alg:none token', async () => {
    // Prepare
    const header = b64url({ alg: 'none', typ: 'JWT' });
    const payload = b64url({
      sub: '1',
      role: 'admin',
      iss: 'serverless-shop',
      aud: 'serverless-shop-api',
      iat: now(),
      exp: now() + 600,
    });

    // Act + Assess
    await expectUnauthorized(`${header}.${payload}.`);
  });

  it('rejects a token signed with a different secret', async () => {
    // Prepare
    const token = await craft().sign(new TextEncoder().encode('another-secret-that-is-long-enough-0123456789'));

    // Act + Assess
    await expectUnauthorized(token);
  });

  it('rejects a token from another issuer', async () => {
    // Prepare
    const token = await craft().setIssuer('someone-else').sign(secret);

    // Act + Assess
    await expectUnauthorized(token);
  });

  it('rejects a token meant for another audience', async () => {
    // Prepare
    const token = await craft().setAudience('another-api').sign(secret);

    // Act + Assess
    await expectUnauthorized(token);
  });

  it('rejects a token without a subject', async () => {
    // Prepare
    const token = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('serverless-shop')
      .setAudience('serverless-shop-api')
      .setExpirationTime(now() + 600)
      .sign(secret);

    // Act + Assess
    await expectUnauthorized(token);
  });

  it('rejects a token without an expiry', async () => {
    // Prepare
    const token = await new SignJWT({ role: 'customer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('42')
      .setIssuer('serverless-shop')
      .setAudience('serverless-shop-api')
      .sign(secret);

    // Act + Assess
    await expectUnauthorized(token);
  });

  it.each(['0', '-1', '1.5', 'abc', '007', '99999999999999999999'])('rejects a subject that is not a user id (%s)', async (sub) => {
    // Prepare
    const token = await craft().setSubject(sub).sign(secret);

    // Act + Assess
    await expectUnauthorized(token);
  });

  it.each([['superuser'], [''], [undefined], [['admin']]])('rejects a role that is not allowed (%j)', async (role) => {
    // Prepare
    const token = await craft({ role }).sign(secret);

    // Act + Assess
    await expectUnauthorized(token);
  });

  it('rejects garbage that is not a JWT at all', async () => {
    await expectUnauthorized('not-a-jwt');
  });
});

describe('verifyToken when the secret comes from Secrets Manager', () => {
  const sm = mockClient(SecretsManagerClient);

  afterEach(() => {
    sm.reset();
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('lets a ServiceUnavailableError from the secret fetch through unchanged', async () => {
    // Prepare
    vi.stubEnv('JWT_SECRET', undefined);
    vi.stubEnv('JWT_SECRET_ID', 'shop/jwt');
    vi.resetModules();
    sm.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const tokens = await import('../../../../lib/auth/tokens.ts');
    const { ServiceUnavailableError } = await import('../../../../lib/errors.ts');
    const token = await craft().sign(secret);

    // Act
    const err = await tokens.verifyToken(token).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: 'secret unavailable' });
  });
});

describe('parseBearer', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';

  it.each([
    ['Bearer', `Bearer ${jwt}`],
    ['lower-case scheme', `bearer ${jwt}`],
    ['upper-case scheme', `BEARER ${jwt}`],
    ['surrounding whitespace', `  Bearer ${jwt}  `],
  ])('returns the token from a well-formed header (%s)', (_label, header) => {
    // Act
    const token = parseBearer(header);

    // Assess
    expect(token).toBe(jwt);
  });

  it.each([
    ['no header', undefined],
    ['empty header', ''],
    ['scheme only', 'Bearer'],
    ['scheme and space only', 'Bearer '],
    ['Basic scheme', 'Basic dXNlcjpwYXNz'],
    ['token without a scheme', jwt],
    ['characters outside the JWT alphabet', 'Bearer abc.def.gh+/='],
    ['not three segments', 'Bearer abc.def'],
    ['two tokens', `Bearer ${jwt} ${jwt}`],
    ['token over 4096 characters', `Bearer ${'a'.repeat(4090)}.${'b'.repeat(10)}.c`],
  ])('throws UnauthorizedError for a malformed header (%s)', (_label, header) => {
    // Act
    const act = () => parseBearer(header);

    // Assess
    expect(act).toThrow(UnauthorizedError);
    expect(act).toThrow('missing bearer token');
  });
});
