// A client of the Lambda Extensions API (docs/design.md, "After the response") for an internal extension: one
// registered from the function's own process. Lambda freezes the sandbox only once the runtime and every
// registered extension have asked for their next event, so an extension that asks only when its work is done
// holds the freeze until then, after the runtime has already posted the response.
import http from 'node:http';
import { Worker } from 'node:worker_threads';

const API = '2020-01-01/extension';

export interface InvokeEvent {
  eventType: 'INVOKE';
  requestId: string;
  /** Epoch ms at which Lambda times the invocation out, whatever still runs. */
  deadlineMs: number;
}

export interface InternalExtension {
  /**
   * Waits for the next invocation, which also tells Lambda this extension is done with the previous one. With
   * `readWhen`, its event is left unread in the socket until that settles: Lambda hands it over as the
   * invocation starts, and an internal extension shares the handler's thread, so reading it then would cost the
   * handler the parsing.
   */
  next(readWhen?: Promise<void>): Promise<InvokeEvent>;
}

// node:http, not fetch: `event/next` is answered only at the next invocation, after a freeze of any length, and
// fetch's undici gives up on a response whose headers take more than 300 s. A plain request has no deadline.
// One kept-alive connection, as the runtime client keeps its own: a new one per invocation cost twice the CPU.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** GET event/next; with `readWhen`, the answer stays unread in the socket until that settles. */
function nextEvent(runtimeApi: string, id: string, readWhen?: Promise<void>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.get(`http://${runtimeApi}/${API}/event/next`, { headers: { 'Lambda-Extension-Identifier': id }, agent }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    if (readWhen) {
      request.on('socket', (socket) => {
        socket.pause();
        void readWhen.then(() => socket.resume());
      });
    }
  });
}

// The registration, run in a worker thread while the module's own thread waits for it (below).
const REGISTER = `
const { workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, name, shared } = workerData;
const done = (status, text) => {
  const bytes = Buffer.from(text).subarray(0, shared.byteLength - 8);
  new Uint8Array(shared, 8).set(bytes);
  const header = new Int32Array(shared, 0, 2);
  header[1] = bytes.length;
  Atomics.store(header, 0, status);
  Atomics.notify(header, 0);
};
const request = http.request(url, {
  method: 'POST',
  headers: { 'Lambda-Extension-Name': name, 'Content-Type': 'application/json' },
}, (response) => {
  response.resume();
  response.on('end', () => done(response.statusCode, String(response.headers['lambda-extension-identifier'] ?? '')));
});
request.on('error', (err) => done(-1, err.message));
request.end(JSON.stringify({ events: ['INVOKE'] }));
`;

/**
 * Registers an internal extension for INVOKE events (internal extensions cannot take SHUTDOWN: the runtime gets
 * SIGTERM instead). Only possible during init, before the runtime first asks for an invocation, and the runtime
 * asks as soon as the handler's module has loaded. So this blocks until Lambda has answered (at most
 * `timeoutMs`), with the request made from a worker thread: waiting with a top-level `await` instead would make
 * the bundle an async module, which `require()` cannot load (`serverless invoke local` does that).
 */
export function registerInternalExtension(runtimeApi: string, name: string, timeoutMs = 2000): InternalExtension {
  const shared = new SharedArrayBuffer(8 + 1024);
  const header = new Int32Array(shared, 0, 2);
  const worker = new Worker(REGISTER, { eval: true, workerData: { url: `http://${runtimeApi}/${API}/register`, name, shared } });
  worker.unref();
  const waited = Atomics.wait(header, 0, 0, timeoutMs);
  void worker.terminate();
  const status = Atomics.load(header, 0);
  const answer = Buffer.from(new Uint8Array(shared, 8, header[1])).toString();
  if (waited === 'timed-out') throw new Error(`extension registration: no answer within ${timeoutMs} ms`);
  if (status !== 200 || answer === '') throw new Error(`extension registration refused: ${status === -1 ? answer : `status ${status}`}`);
  const id = answer;
  return {
    async next(readWhen) {
      const answer = await nextEvent(runtimeApi, id, readWhen);
      if (answer.status !== 200) throw new Error(`extension event/next failed: ${answer.status} ${answer.body}`);
      return JSON.parse(answer.body) as InvokeEvent;
    },
  };
}
