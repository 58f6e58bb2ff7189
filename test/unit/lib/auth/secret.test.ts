import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const sm = mockClient(SecretsManagerClient);

// config is read once per module graph, so each test stubs the environment and then loads a fresh graph.
async function loadWithEnv(env: Record<string, string | undefined>) {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  const secret = await import('../../../../lib/auth/secret.ts');
  const { ServiceUnavailableError } = await import('../../../../lib/errors.ts');
  return { ...secret, ServiceUnavailableError };
}

describe('getJwtSecret', () => {
  beforeEach(() => {
    sm.reset();
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('uses JWT_SECRET when it is set, without calling Secrets Manager', async () => {
    // Prepare
    const value = 'a-configured-secret-of-at-least-32-bytes!';
    const { getJwtSecret } = await loadWithEnv({ JWT_SECRET: value, JWT_SECRET_ID: undefined });

    // Act
    const key = await getJwtSecret();

    // Assess
    expect(new TextDecoder().decode(key)).toBe(value);
    expect(sm.calls()).toHaveLength(0);
  });

  it('fetches the secret from Secrets Manager once when only JWT_SECRET_ID is set', async () => {
    // Prepare
    const value = 'a-secret-from-secrets-manager-0123456789';
    sm.on(GetSecretValueCommand, { SecretId: 'shop/jwt' }).resolves({ SecretString: value });
    const { getJwtSecret } = await loadWithEnv({ JWT_SECRET: undefined, JWT_SECRET_ID: 'shop/jwt' });

    // Act
    const first = await getJwtSecret();
    const second = await getJwtSecret();

    // Assess
    expect(new TextDecoder().decode(first)).toBe(value);
    expect(second).toEqual(first);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('throws a ServiceUnavailableError when Secrets Manager fails', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).rejects(new Error('ThrottlingException'));
    const { getJwtSecret, ServiceUnavailableError } = await loadWithEnv({
      JWT_SECRET: undefined,
      JWT_SECRET_ID: 'shop/jwt',
    });

    // Act
    const err = await getJwtSecret().catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(ServiceUnavailableError);
  });

  it('refuses a secret shorter than 32 bytes as a misconfiguration', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'too-short' });
    const { getJwtSecret, ServiceUnavailableError } = await loadWithEnv({
      JWT_SECRET: undefined,
      JWT_SECRET_ID: 'shop/jwt',
    });

    // Act
    const err = await getJwtSecret().catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ServiceUnavailableError);
    expect((err as Error).message).toMatch(/at least 32 bytes/);
    expect((err as Error).message).not.toContain('too-short');
  });
});
