// Sees the bodies the gateway client (packages/middy-pushgateway/src/gateway.ts) POSTs, by wrapping node:http's `request`, which
// it calls through the module object. For tests and the bench; returns a function that unwraps.
import http from 'node:http';

export function watchGatewayPosts(onPost: (body: string) => void): () => void {
  const original = http.request;
  http.request = function (this: unknown, ...args: unknown[]) {
    const request = (original as (...a: unknown[]) => http.ClientRequest).apply(this, args);
    if (request.method === 'POST') {
      const end = request.end;
      request.end = function (this: http.ClientRequest, ...endArgs: unknown[]) {
        if (typeof endArgs[0] === 'string') onPost(endArgs[0]);
        return (end as (...a: unknown[]) => http.ClientRequest).apply(this, endArgs);
      } as typeof end;
    }
    return request;
  } as typeof http.request;
  return () => {
    http.request = original;
  };
}
