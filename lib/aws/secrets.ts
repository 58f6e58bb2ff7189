import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ServiceUnavailableError } from '../errors.ts';
import { describeError, log } from '../log.ts';
import { countError } from '../metrics/errors.ts';
import { secretsManager } from './clients.ts';

// A value is fetched again this long after it was fetched: a rotated secret reaches every container within it.
const TTL_MS = 5 * 60_000;
// When that fetch fails, the value in hand is still served, and asked for again every RETRY_MS, until it is
// MAX_AGE_MS old; only then does the failure reach the request (a 503). @middy/secrets-manager (cacheExpiry)
// and Powertools Parameters fail the request as soon as the value has expired; we do not, because every
// authenticated request needs the token key: a Secrets Manager blip would take the whole API down, while the
// key in hand is almost always still the current one. The bound keeps a key rotated away in an emergency (a
// leak) from living on through a long outage.
const MAX_AGE_MS = 30 * 60_000;
const RETRY_MS = 10_000;

interface Held {
  value: string;
  fetchedAt: number;
  refreshAt: number;
}
const held = new Map<string, Held>();
// The fetch is shared, not repeated: concurrent cold-start requests make one GetSecretValue call. It leaves
// the map once settled, so a failure is never served from it: the next request after a failure asks again.
const inFlight = new Map<string, Promise<string>>();

export function getSecretString(secretId: string): Promise<string> {
  const current = held.get(secretId);
  if (current && Date.now() < current.refreshAt) return Promise.resolve(current.value);
  let pending = inFlight.get(secretId);
  if (!pending) {
    pending = refresh(secretId, current).finally(() => inFlight.delete(secretId));
    inFlight.set(secretId, pending);
  }
  return pending;
}

async function refresh(secretId: string, current: Held | undefined): Promise<string> {
  try {
    const value = await fetchSecretString(secretId);
    const now = Date.now();
    held.set(secretId, { value, fetchedAt: now, refreshAt: now + TTL_MS });
    return value;
  } catch (err) {
    const now = Date.now();
    if (!current || now - current.fetchedAt >= MAX_AGE_MS) throw err;
    countError('dependency_unavailable', 'secrets', 'warning');
    const cause = err instanceof Error ? (err.cause ?? err) : err;
    log.warn('secret refresh failed; serving the value fetched before', { secretId, ageMs: now - current.fetchedAt, ...describeError(cause) });
    current.refreshAt = Math.min(now + RETRY_MS, current.fetchedAt + MAX_AGE_MS);
    return current.value;
  }
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
