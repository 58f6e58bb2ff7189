// A Pushgateway of a test's own (Debian's prometheus-pushgateway), so the test can stop and restart it.
// No persistence: a restart forgets every group, the harshest outage.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

export class PushgatewayProcess {
  private child: ChildProcess | undefined;
  readonly url: string;
  readonly port: number;
  readonly log: string[] = [];
  private readonly args: string[];
  private readonly headers: Record<string, string>;

  /** `args` are extra flags (--web.config.file=...); `headers` go with the readiness check (its credentials). */
  constructor(port: number, options: { args?: string[]; headers?: Record<string, string> } = {}) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.args = options.args ?? [];
    this.headers = options.headers ?? {};
  }

  async start(): Promise<void> {
    this.child = spawn(process.env.PUSHGATEWAY_BIN ?? 'prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${this.port}`, '--persistence.file=', '--log.level=debug', ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => this.log.push(...chunk.toString().split('\n').filter(Boolean));
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    for (let attempt = 0; attempt < 100; attempt++) {
      const ready = await fetch(`${this.url}/-/ready`, { headers: this.headers }).then((r) => r.ok, () => false);
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`pushgateway did not start on ${this.port}:\n${this.log.join('\n')}`);
  }

  /** Hangs it (SIGSTOP): connections are accepted by the kernel and wait, unanswered, until `resume`. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** Tests that push a lot get a gateway of their own: a gateway checks every push against all it holds. */
export const gatewayBinaryAvailable = (): boolean =>
  spawnSync(process.env.PUSHGATEWAY_BIN ?? 'prometheus-pushgateway', ['--version']).status === 0;
