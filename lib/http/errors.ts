// One table from error code to HTTP status. Anything not in it, and anything that is not an AppError or an
// HTTP error raised by a Middy middleware, is a bug: a generic 500 whose details stay in the logs.
import { AppError } from '../errors.ts';
import { json, type HttpResponse } from './responses.ts';

const STATUS_BY_CODE: Record<string, number> = {
  VALIDATION_ERROR: 400,
  MALFORMED_JSON: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  OUT_OF_STOCK: 409,
  EMAIL_TAKEN: 409,
  SKU_TAKEN: 409,
  INVALID_TRANSITION: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  UNKNOWN_PRODUCT: 422,
  MIXED_CURRENCY: 422,
  TOO_MANY_ATTEMPTS: 429,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * Every status a route answers: the successes of responses.ts and every status a failure maps to here. Their
 * series exist at 0 before a route first answers them (test/unit/lib/http/answered-statuses.test.ts keeps the
 * list complete).
 */
export const ANSWERED_STATUSES = ['200', '201', '204', '400', '401', '403', '404', '409', '413', '415', '422', '429', '500', '503'];

// Middy's own middlewares throw http-errors style objects; these are the ones a client can trigger.
// http-json-body-parser says 422 for unparseable JSON; a syntax error is a plain 400 to us.
const FROM_MIDDY_STATUS: Record<number, { status: number; code: string; message: string }> = {
  413: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large' },
  415: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' },
  422: { status: 400, code: 'MALFORMED_JSON', message: 'request body is not valid JSON' },
};

export class ValidationError extends AppError {
  readonly code = 'VALIDATION_ERROR';
}
export class PayloadTooLargeError extends AppError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

export interface Fault {
  type: string;
  severity: 'warning' | 'critical';
}
/** The failures of ours a handler can answer with: an outage of a dependency (503), a bug (500). */
export const FAULTS = {
  dependency: { type: 'dependency_unavailable', severity: 'critical' },
  bug: { type: 'unhandled', severity: 'critical' },
} as const satisfies Record<string, Fault>;

export interface MappedError {
  response: HttpResponse;
  /** Set when the failure is ours (a bug or an outage), so it is logged and counted. */
  fault?: Fault;
}

const body = (code: string, message: string, details?: Record<string, unknown>) => ({
  error: details ? { code, message, details } : { code, message },
});

function isMiddyHttpError(err: unknown): err is Error & { statusCode: number; expose?: boolean } {
  return err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === 'number';
}

export function mapError(err: unknown): MappedError {
  if (err instanceof AppError && STATUS_BY_CODE[err.code] !== undefined) {
    const status = STATUS_BY_CODE[err.code]!;
    if (status === 503) {
      return { response: json(503, body(err.code, err.message), { 'Retry-After': '1' }), fault: FAULTS.dependency };
    }
    // A client told how long to wait (a locked login) also gets it as a header, as RFC 6585 asks of a 429.
    const retryAfter = err.details?.retryAfterSeconds;
    const headers = typeof retryAfter === 'number' ? { 'Retry-After': String(retryAfter) } : undefined;
    return { response: json(status, body(err.code, err.message, err.details), headers) };
  }
  if (isMiddyHttpError(err) && err.statusCode < 500) {
    const known = FROM_MIDDY_STATUS[err.statusCode] ?? { status: err.statusCode, code: 'BAD_REQUEST', message: 'bad request' };
    return { response: json(known.status, body(known.code, known.message)) };
  }
  return { response: json(500, body('INTERNAL_ERROR', 'internal error')), fault: FAULTS.bug };
}
