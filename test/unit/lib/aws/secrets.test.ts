import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const sm = mockClient(SecretsManagerClient);

// The cache lives in module scope (one per container), so each test loads a fresh copy of the module.
async function load() {
  vi.resetModules();
  const { getSecretString } = await import('../../../../lib/aws/secrets.ts');
  const { ServiceUnavailableError } = await import('../../../../lib/errors.ts');
  return { getSecretString, ServiceUnavailableError };
}

describe('getSecretString', () => {
  beforeEach(() => {
    sm.reset();
  });

  it('fetches a secret once and serves later calls from the container cache', async () => {
    // Prepare
    sm.on(GetSecretValueCommand, { SecretId: 'shop/jwt' }).resolves({ SecretString: 's3cr3t' });
    const { getSecretString } = await load();

    // Act
    const values = await Promise.all([getSecretString('shop/jwt'), getSecretString('shop/jwt')]);
    const later = await getSecretString('shop/jwt');

    // Assess
    expect(values).toEqual(['s3cr3t', 's3cr3t']);
    expect(later).toBe('s3cr3t');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: 'shop/jwt' });
  });

  it('caches each secret id separately', async () => {
    // Prepare
    sm.on(GetSecretValueCommand, { SecretId: 'a' }).resolves({ SecretString: 'value-a' });
    sm.on(GetSecretValueCommand, { SecretId: 'b' }).resolves({ SecretString: 'value-b' });
    const { getSecretString } = await load();

    // Act
    const a = await getSecretString('a');
    const b = await getSecretString('b');

    // Assess
    expect([a, b]).toEqual(['value-a', 'value-b']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('throws ServiceUnavailableError when the fetch fails, and fetches again on the next call', async () => {
    // Prepare
    sm.on(GetSecretValueCommand)
      .rejectsOnce(new Error('InternalServiceError'))
      .resolves({ SecretString: 'recovered' });
    const { getSecretString, ServiceUnavailableError } = await load();

    // Act
    const err = await getSecretString('shop/jwt').catch((e: unknown) => e);
    const retried = await getSecretString('shop/jwt');

    // Assess
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err).toMatchObject({ message: 'secret unavailable', details: { secretId: 'shop/jwt' } });
    expect(retried).toBe('recovered');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('treats a secret without SecretString as unavailable and does not cache the failure', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    const { getSecretString, ServiceUnavailableError } = await load();

    // Act
    const first = await getSecretString('shop/binary').catch((e: unknown) => e);
    const second = await getSecretString('shop/binary').catch((e: unknown) => e);

    // Assess
    expect(first).toBeInstanceOf(ServiceUnavailableError);
    expect(second).toBeInstanceOf(ServiceUnavailableError);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});
