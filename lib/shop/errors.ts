// The rules of the shop, broken. Each code is stable (clients switch on it); lib/http/errors.ts maps it to
// a status. The message is safe to show; details carry ids, never request bodies.
import { AppError } from '../errors.ts';

export class NotFoundError extends AppError {
  readonly code = 'NOT_FOUND';
}
export class OutOfStockError extends AppError {
  readonly code = 'OUT_OF_STOCK';
}
export class UnknownProductError extends AppError {
  readonly code = 'UNKNOWN_PRODUCT';
}
export class MixedCurrencyError extends AppError {
  readonly code = 'MIXED_CURRENCY';
}
export class EmailTakenError extends AppError {
  readonly code = 'EMAIL_TAKEN';
}
export class SkuTakenError extends AppError {
  readonly code = 'SKU_TAKEN';
}
export class InvalidCredentialsError extends AppError {
  readonly code = 'INVALID_CREDENTIALS';
}
/** Too many failed logins on one account; `details.retryAfterSeconds` says when it may try again. */
export class TooManyAttemptsError extends AppError {
  readonly code = 'TOO_MANY_ATTEMPTS';
}
export class InvalidTransitionError extends AppError {
  readonly code = 'INVALID_TRANSITION';
}
export class IdempotencyKeyReusedError extends AppError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
}
