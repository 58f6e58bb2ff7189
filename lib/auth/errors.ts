import { AppError } from '../errors.ts';

/** No credentials, or credentials we cannot trust; the client should authenticate (again). */
export class UnauthorizedError extends AppError {
  readonly code = 'UNAUTHORIZED';
}

/** Authenticated, but this principal may not do this; authenticating again will not help. */
export class ForbiddenError extends AppError {
  readonly code = 'FORBIDDEN';
}
