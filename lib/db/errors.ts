import { ServiceUnavailableError } from '../errors.ts';

// SQLSTATE classes and socket errors that mean "the database is not there right now", as opposed to a bug
// in our SQL: 08 connection exception, 53 insufficient resources, 57 operator intervention (admin shutdown,
// statement timeout), plus the errors pg raises itself when a socket dies.
const OUTAGE_SQLSTATE = /^(08|53|57)/;
const OUTAGE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const OUTAGE_MESSAGES = [/Connection terminated/i, /timeout exceeded when trying to connect/i, /Client has encountered a connection error/i];

export function isDatabaseOutage(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (OUTAGE_SQLSTATE.test(code) || OUTAGE_SOCKET_CODES.has(code))) return true;
  return OUTAGE_MESSAGES.some((pattern) => pattern.test(err.message));
}

/** Outages become a 503 the caller may retry; anything else stays as it is (a bug is a 500). */
export function toDatabaseError(err: unknown): unknown {
  if (err instanceof ServiceUnavailableError || !isDatabaseOutage(err)) return err;
  return new ServiceUnavailableError('database unavailable', undefined, { cause: err });
}

export const isUniqueViolation = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === '23505';
