import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ServiceUnavailableError } from '../errors.ts';
import { secretsManager } from './clients.ts';

// The promise is cached, not the value, so concurrent cold-start requests share one GetSecretValue call.
// A rejected promise is evicted: a transient outage must not poison the container until it is recycled.
const cache = new Map<string, Promise<string>>();

export function getSecretString(secretId: string): Promise<string> {
  let pending = cache.get(secretId);
  if (!pending) {
    pending = fetchSecretString(secretId);
    cache.set(secretId, pending);
    pending.catch(() => {
      if (cache.get(secretId) === pending) cache.delete(secretId);
    });
  }
  return pending;
}

async function fetchSecretString(secretId: string): Promise<string> {
  let value: string | undefined;
  try {
    const out = await secretsManager().send(new GetSecretValueCommand({ SecretId: secretId }));
    value = out.SecretString;
  } catch (err) {
    throw new ServiceUnavailableError('secret unavailable', { secretId }, { cause: err });
  }
  // A binary-only secret is a deployment mistake, but to the request it looks the same as an outage.
  if (value === undefined) {
    throw new ServiceUnavailableError('secret unavailable', { secretId, reason: 'no SecretString' });
  }
  return value;
}
