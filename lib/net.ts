// Whether something accepts TCP connections on a loopback port. No configuration here: the test setup and the
// server launchers use it before the environment that lib/config.ts freezes is complete.
import net from 'node:net';

export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
