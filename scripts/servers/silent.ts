// A hung dependency for the fault tests: a TCP server that accepts every connection and never answers.
import net from 'node:net';

export class SilentServer {
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted so far: pushes that reached it and were left hanging. */
  accepted = 0;
  private readonly server = net.createServer((socket) => {
    this.accepted++;
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  });

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
