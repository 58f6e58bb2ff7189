// Lambda's side of the Extensions API for the bench's "after-response" variant, in a worker thread of the bench
// child: the extension registers while the handler's module loads, and its thread waits for the answer
// (packages/middy-pushgateway/src/lambda-extension.ts), so the server cannot share that thread.
//
// Lambda hands an invocation to the runtime and to every extension at once, and ends its phase (freezes the
// sandbox, stops billing, lets the next invocation in) only once every extension asks for its next event. So:
// `start` answers the extension's parked `event/next` with the invocation, `phaseEnd` waits for the next one.
import http from 'node:http';
import type net from 'node:net';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

type FromServer = { port: number } | { parked: true };

if (!isMainThread) {
  let parked: http.ServerResponse | undefined;
  const server = http.createServer((request, response) => {
    request.resume();
    if (request.method === 'POST' && request.url === '/2020-01-01/extension/register') {
      response.writeHead(200, { 'Lambda-Extension-Identifier': 'bench-extension', 'Content-Type': 'application/json' }).end('{}');
    } else if (request.method === 'GET' && request.url === '/2020-01-01/extension/event/next') {
      parked = response;
      parentPort!.postMessage({ parked: true } satisfies FromServer);
    } else {
      response.writeHead(404).end();
    }
  });
  parentPort!.on('message', (body: string) => {
    parked!.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    parked = undefined;
  });
  server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as net.AddressInfo).port } satisfies FromServer));
}

export interface ExtensionsApi {
  /** host:port, for AWS_LAMBDA_RUNTIME_API. */
  address: string;
  start(requestId: string): Promise<void>;
  /** hrtime at which the extension asked for its next event. */
  phaseEnd(): Promise<bigint>;
}

export async function startExtensionsApi(): Promise<ExtensionsApi> {
  const worker = new Worker(new URL(import.meta.url));
  worker.unref();
  let parked = false;
  let onParked: (() => void) | undefined;
  const whenParked = () => new Promise<void>((resolve) => (onParked = resolve));
  const port = await new Promise<number>((resolve) =>
    worker.on('message', (message: FromServer) => {
      if ('port' in message) return resolve(message.port);
      parked = true;
      onParked?.();
      onParked = undefined;
    }),
  );
  return {
    address: `127.0.0.1:${port}`,
    async start(requestId) {
      if (!parked) await whenParked(); // only before the first invocation: phaseEnd waited for it since
      parked = false;
      worker.postMessage(
        JSON.stringify({ eventType: 'INVOKE', requestId, deadlineMs: Date.now() + 10_000, invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench', tracing: { type: 'X-Amzn-Trace-Id', value: '' } }),
      );
    },
    async phaseEnd() {
      if (!parked) await whenParked();
      return process.hrtime.bigint();
    },
  };
}
