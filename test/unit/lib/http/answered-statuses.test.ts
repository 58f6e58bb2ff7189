import { describe, expect, it } from 'vitest';
import * as baseErrors from '../../../../lib/errors.ts';
import * as authErrors from '../../../../lib/auth/errors.ts';
import * as eventErrors from '../../../../lib/aws/events.ts';
import * as httpErrors from '../../../../lib/http/errors.ts';
import * as shopErrors from '../../../../lib/shop/errors.ts';

const { AppError } = baseErrors;
const { mapError } = httpErrors;
type AppErrorClass = new (message: string) => InstanceType<typeof AppError>;
const isAppErrorClass = (value: unknown): value is AppErrorClass => typeof value === 'function' && value.prototype instanceof AppError;

// Everything a handler's error handler can be given: every AppError our modules define, the http-errors
// Middy's body parser throws (413, 415, 422), and a bug. Discovered from the modules, so a new error class
// whose status is not pre-created fails here.
const failures = [
  ...[baseErrors, authErrors, eventErrors, httpErrors, shopErrors].flatMap((m) => Object.values(m)).filter(isAppErrorClass).map((E) => new E('failure')),
  ...[413, 415, 422].map((statusCode) => Object.assign(new Error('from a middleware'), { statusCode })),
  new Error('a bug'),
];
const SUCCESSES = [200, 201, 204]; // ok, created and noContent in lib/http/responses.ts

describe('the statuses whose series the shop creates at 0 (ANSWERED_STATUSES)', () => {
  it('are exactly the statuses a route can answer', () => {
    const answerable = [...new Set([...SUCCESSES, ...failures.map((err) => mapError(err).response.statusCode)])].map(String).sort();
    expect([...httpErrors.ANSWERED_STATUSES].sort()).toEqual(answerable);
    expect(answerable).toContain('429'); // a locked login: the status this list once missed
  });
});
