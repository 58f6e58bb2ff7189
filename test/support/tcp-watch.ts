// A TCP proxy in front of a server (Redis, the Pushgateway) that tells, at any moment, how many of its client's
// requests are still waiting for their answer: a connection whose client sent bytes the server has not yet
// answered. Both protocols the sandboxes speak are request/answer, and the pusher has one command or POST out
// per connection at a time, so this is exact for them; with pipelining it would undercount. An optional delay
// holds every chunk in both directions, so that a request stays in flight long enough to be caught.
import net from 'node:net';

export interface TcpWatch {
  /** host:port to give the client instead of the server's. */
  port: number;
  /** Requests sent through the proxy whose answer has not reached the client yet. */
  inFlight(): number;
  /** performance.now() of every request's first bytes. */
  readonly requestTimes: number[];
  close(): Promise<void>;
}

export async function watchTcp(target: { host: string; port: number }, delayMs = 0): Promise<TcpWatch> {
  const waiting = new Set<net.Socket>();
  const requestTimes: number[] = [];
  const sockets = new Set<net.Socket>();
  const later = (work: () => void) => (delayMs > 0 ? setTimeout(work, delayMs) : work());
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        waiting.delete(client);
      });
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk) => {
      if (!waiting.has(client)) requestTimes.push(performance.now());
      waiting.add(client);
      later(() => upstream.write(chunk));
    });
    upstream.on('data', (chunk) =>
      later(() => {
        client.write(chunk);
        waiting.delete(client);
      }),
    );
    client.on('end', () => later(() => upstream.end()));
    upstream.on('end', () => later(() => client.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    inFlight: () => waiting.size,
    requestTimes,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
