// What a route function receives. It is built by the middlewares on the invocation's Lambda context, which
// lives exactly as long as one request (never in a closure shared by concurrent requests).
import type { Context } from 'aws-lambda';
import type { Principal } from '../auth/tokens.ts';

export type AuthMode = 'none' | 'user' | 'admin';

export interface RouteInput<Body = unknown, Query = unknown, Params = unknown, Who = Principal | undefined> {
  body: Body;
  query: Query;
  params: Params;
  principal: Who;
  method: string;
  headers: Record<string, string | undefined>;
}

const INPUT = Symbol.for('serverless-shop.input');
type WithInput = Context & { [INPUT]?: RouteInput };

export function inputOf(context: Context): RouteInput {
  const holder = context as WithInput;
  holder[INPUT] ??= { body: undefined, query: undefined, params: undefined, principal: undefined, method: '', headers: {} };
  return holder[INPUT];
}
