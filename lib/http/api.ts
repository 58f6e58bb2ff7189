// The one factory every handler goes through, read top to bottom from the outside in. Timing sits in plugin
// hooks around everything; the error handler is used last so that its onError runs first.
import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpContentNegotiation from '@middy/http-content-negotiation';
import httpContentEncoding from '@middy/http-content-encoding';
import httpSecurityHeaders from '@middy/http-security-headers';
import httpCors from '@middy/http-cors';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { z } from 'zod';
import { config } from '../config.ts';
import { metrics } from '../metrics/container.ts';
import type { Principal } from '../auth/tokens.ts';
import { authenticate, bodyLimit, errorHandler, keepHeaders, validate } from './middlewares.ts';
import { inputOf, type AuthMode, type RouteInput } from './input.ts';
import type { HttpResponse } from './responses.ts';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
type Who<A> = A extends 'user' | 'admin' ? Principal : undefined;

const CORS_METHODS = 'GET,POST,PUT,PATCH,DELETE';
const CORS_HEADERS = 'authorization,content-type,idempotency-key';

// Routes without query or path parameters still reject unexpected ones: a typo'd parameter is an error.
const emptyObject = z.strictObject({});

export interface RouteOptions<B, Q, P, A extends AuthMode> {
  /** "METHOD /path/{param}" as in serverless.yml; the route label of every metric. */
  route: string;
  body?: B;
  query?: Q;
  params?: P;
  auth?: A;
  headers?: z.ZodType;
}

export type RouteFn<B, Q, P, A> = (input: RouteInput<Out<B>, Out<Q>, Out<P>, Who<A>>) => Promise<HttpResponse>;

export function api<
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  P extends z.ZodType | undefined = undefined,
  A extends AuthMode = 'none',
>(fn: RouteFn<B, Q, P, A>, options: RouteOptions<B, Q, P, A>) {
  const handler = async (_event: APIGatewayProxyEventV2, context: Context): Promise<HttpResponse> => {
    return fn(inputOf(context) as RouteInput<Out<B>, Out<Q>, Out<P>, Who<A>>);
  };

  const stack = middy<APIGatewayProxyEventV2, HttpResponse>(handler, metrics.plugin({ route: options.route }))
    .use(httpHeaderNormalizer())
    .use(keepHeaders())
    .use(httpContentNegotiation({ parseCharsets: false, parseLanguages: false, parseMediaTypes: false, parseEncodings: true, failOnMismatch: false }))
    .use(httpContentEncoding())
    .use(httpSecurityHeaders())
    // Preflights reach us through the $default route (functions/ops/fallback.ts; the HTTP API's own CORS is off),
    // which answers them through the whole stack rather than http-cors's early return, so they get every header.
    .use(httpCors({ origins: config.http.corsOrigins, methods: CORS_METHODS, headers: CORS_HEADERS, maxAge: 600, disableBeforePreflightResponse: true }))
    .use(authenticate(options.auth ?? 'none'));
  if (options.body) stack.use(bodyLimit(config.http.maxBodyBytes)).use(httpJsonBodyParser());
  return stack.use(validate({ body: options.body, query: options.query ?? emptyObject, params: options.params ?? emptyObject, headers: options.headers })).use(errorHandler(options.route));
}
