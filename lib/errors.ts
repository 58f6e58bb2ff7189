// Every failure a caller can cause, or an outage we can name, is an AppError with a stable `code`.
// lib/http/errors.ts maps codes to HTTP statuses in one table; anything that is not an AppError is a bug.
export abstract class AppError extends Error {
  abstract readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

/** A dependency we cannot do without is down; the request wrote nothing and may be retried. */
export class ServiceUnavailableError extends AppError {
  readonly code = 'SERVICE_UNAVAILABLE';
}
