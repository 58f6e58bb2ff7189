// Our own Middy middlewares, for what the official ones do not cover. Each sets request state and never
// returns a value from a hook (a return would end the phase and skip outer middlewares).
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { z } from 'zod';
import { parseBearer, verifyToken, type Principal } from '../auth/tokens.ts';
import { ForbiddenError } from '../auth/errors.ts';
import { countError } from '../metrics/errors.ts';
import { log, describeError } from '../log.ts';
import { FAULTS, mapError, PayloadTooLargeError, ValidationError } from './errors.ts';
import { inputOf, type AuthMode } from './input.ts';

type HttpRequest = Request<APIGatewayProxyEventV2>;

/** Hands the method and the (normalised, lower-case) request headers to the route function. */
export function keepHeaders(): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    name: 'keepHeaders',
    before: function keepHeadersBefore(request: HttpRequest) {
      const input = inputOf(request.context);
      input.method = request.event.requestContext?.http?.method ?? '';
      input.headers = { ...request.event.headers };
    },
  };
}

/** Rejects oversized bodies before anything parses them. */
export function bodyLimit(maxBytes: number): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    name: 'bodyLimit',
    before: function bodyLimitBefore(request: HttpRequest) {
      const { body, isBase64Encoded } = request.event;
      if (body && Buffer.byteLength(body, isBase64Encoded ? 'base64' : 'utf8') > maxBytes) {
        throw new PayloadTooLargeError(`request body exceeds ${maxBytes} bytes`);
      }
    },
  };
}

export interface Schemas {
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** Only the headers a route reads; the others pass untouched. */
  headers?: z.ZodType;
}

function check(schema: z.ZodType | undefined, value: unknown, location: string): unknown {
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ValidationError(`invalid ${location}`, {
    location,
    issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  });
}

/** Validates body, query and path against strict schemas; nothing unvalidated reaches a handler. */
export function validate(schemas: Schemas): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    name: 'validate',
    before: function validateBefore(request: HttpRequest) {
      const input = inputOf(request.context);
      const { event } = request;
      input.params = check(schemas.params, event.pathParameters ?? {}, 'path');
      input.query = check(schemas.query, event.queryStringParameters ?? {}, 'query');
      input.body = check(schemas.body, event.body, 'body');
      if (schemas.headers) Object.assign(input.headers, check(schemas.headers, event.headers ?? {}, 'headers'));
    },
  };
}

export function authenticate(mode: AuthMode): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    name: 'authenticate',
    before: async function authenticateBefore(request: HttpRequest) {
      if (mode === 'none') return;
      const principal: Principal = await verifyToken(parseBearer(request.event.headers?.authorization));
      if (mode === 'admin' && principal.role !== 'admin') throw new ForbiddenError('this route is for administrators');
      inputOf(request.context).principal = principal;
    },
  };
}

/**
 * Turns every error into the `{ error: { code, message } }` contract. Used last, so its onError runs first
 * and the official middlewares' onError (security headers, CORS) still decorate the answer.
 */
export function errorHandler(route: string): MiddlewareObj<APIGatewayProxyEventV2> {
  // At 0 from the start, so an error panel shows "none yet" rather than "no data".
  for (const fault of Object.values(FAULTS)) countError(fault.type, 'handler', fault.severity, 0);
  return {
    name: 'errorHandler',
    onError: function errorHandlerOnError(request: HttpRequest) {
      const { response, fault } = mapError(request.error);
      if (fault) {
        countError(fault.type, 'handler', fault.severity);
        log.error('request failed', { route, status: response.statusCode, ...describeError(request.error) });
      }
      request.response = response;
    },
  };
}
