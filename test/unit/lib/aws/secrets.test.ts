import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const sm = mockClient(SecretsManagerClient);

// The cache lives in module scope (one per container), so each test loads a fresh copy of the module.
async function load() {
  vi.resetModules();
  const { getSecretString } = await import('../../../../lib/aws/secrets.ts');
  const { ServiceUnavailableError } = await import('../../../../lib/errors.ts');
  const { registry } = await import('../../../../lib/metrics/registry.ts');
  const warnings = async () =>
    (await registry.getSingleMetric('errors_total')!.get()).values.find((v) => v.labels.component === 'secrets')?.value ?? 0;
  return { getSecretString, ServiceUnavailableError, warnings };
}

const MINUTE = 60_000;
const outage = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

describe('getSecretString', () => {
  beforeEach(() => {
    sm.reset();
    // Only the clock: the mocked client's promises must settle as usual.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.spyOn(console, 'error').mockImplementation(() => {}); // the warning of a failed refresh
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
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

  it('fetches the secret again 5 minutes after it was fetched, so a rotation is seen', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'before-rotation' }).resolves({ SecretString: 'after-rotation' });
    const { getSecretString } = await load();
    await getSecretString('shop/jwt');

    // Act
    vi.advanceTimersByTime(5 * MINUTE - 1);
    const justBefore = await getSecretString('shop/jwt');
    vi.advanceTimersByTime(1);
    const expired = await getSecretString('shop/jwt');
    const later = await getSecretString('shop/jwt');

    // Assess
    expect([justBefore, expired, later]).toEqual(['before-rotation', 'after-rotation', 'after-rotation']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one refresh among concurrent requests once the value has expired', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'old' }).resolves({ SecretString: 'new' });
    const { getSecretString } = await load();
    await getSecretString('shop/jwt');
    vi.advanceTimersByTime(5 * MINUTE);

    // Act
    const values = await Promise.all(Array.from({ length: 10 }, () => getSecretString('shop/jwt')));

    // Assess
    expect(values).toEqual(Array(10).fill('new'));
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('serves the value in hand while a refresh fails, asking again every 10 s, for up to 30 minutes after it was fetched', async () => {
    // Prepare
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'in-hand' }).rejects(outage());
    const { getSecretString, ServiceUnavailableError, warnings } = await load();
    await getSecretString('shop/jwt');
    const calls = () => sm.commandCalls(GetSecretValueCommand).length;

    // Act and assess: expired, the refresh fails, the value is served
    vi.advanceTimersByTime(5 * MINUTE);
    expect(await getSecretString('shop/jwt')).toBe('in-hand');
    expect(calls()).toBe(2);
    expect(await warnings()).toBe(1);
    // not asked again within 10 s, asked again after them
    vi.advanceTimersByTime(10_000 - 1);
    expect(await getSecretString('shop/jwt')).toBe('in-hand');
    expect(calls()).toBe(2);
    vi.advanceTimersByTime(1);
    expect(await getSecretString('shop/jwt')).toBe('in-hand');
    expect(calls()).toBe(3);
    // 30 minutes after the fetch, the failure reaches the request, and every request asks again
    vi.advanceTimersByTime(25 * MINUTE - 10_000 - 1);
    expect(await getSecretString('shop/jwt')).toBe('in-hand');
    vi.advanceTimersByTime(1);
    const calledBefore = calls();
    await expect(getSecretString('shop/jwt')).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(getSecretString('shop/jwt')).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(calls()).toBe(calledBefore + 2);

    // Secrets Manager back: the next request gets the value and it is held for 5 minutes again
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'fetched-again' });
    expect(await getSecretString('shop/jwt')).toBe('fetched-again');
    vi.advanceTimersByTime(5 * MINUTE - 1);
    expect(await getSecretString('shop/jwt')).toBe('fetched-again');
    expect(calls()).toBe(calledBefore + 3);
  });
});
