// Prometheus Pushgateway (Debian's prometheus-pushgateway) on loopback: how to run it (pushgatewayLaunch, for the
// launchers) and a test's own gateway (PushgatewayProcess), which the test stops, restarts and hangs.
import { spawnSync } from 'node:child_process';
import { httpOk, ServerProcess, type Launch } from './process.ts';

const binary = () => process.env.PUSHGATEWAY_BIN ?? 'prometheus-pushgateway';

/** Tests that push a lot get a gateway of their own: a gateway checks every push against all it holds. */
export const gatewayBinaryAvailable = (): boolean => spawnSync(binary(), ['--version']).status === 0;

export interface PushgatewayOptions {
  /** Where it keeps what was pushed across restarts. Without it, memory only: Debian builds it with
   * --persistence.file=/var/lib/prometheus/pushgateway.data as the default, and an explicit empty value keeps
   * every start empty (and out of a system gateway's file). */
  persistenceFile?: string;
  /** Extra flags (--web.config.file=...). */
  args?: string[];
  /** Sent with the readiness check (its credentials). */
  headers?: Record<string, string>;
}

export function pushgatewayLaunch(port: number, options: PushgatewayOptions = {}): Launch {
  return {
    name: `pushgateway on 127.0.0.1:${port}`,
    command: binary(),
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--persistence.file=${options.persistenceFile ?? ''}`,
      // clearGateway (scripts/support/gateway.ts) wipes it through the admin API.
      '--web.enable-admin-api',
      '--web.enable-lifecycle',
      ...(options.args ?? []),
    ],
    ready: () => httpOk(`http://127.0.0.1:${port}/-/ready`, options.headers),
  };
}

/** No persistence: a restart forgets every group, the harshest outage. */
export class PushgatewayProcess {
  private server: ServerProcess | undefined;
  readonly url: string;
  readonly port: number;
  private readonly options: PushgatewayOptions;

  constructor(port: number, options: Omit<PushgatewayOptions, 'persistenceFile'> = {}) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.options = { ...options, args: ['--log.level=debug', ...(options.args ?? [])] };
  }

  async start(): Promise<void> {
    this.server = await ServerProcess.start(pushgatewayLaunch(this.port, this.options));
  }

  /** Hangs it (SIGSTOP): connections are accepted by the kernel and wait, unanswered, until `resume`. */
  pause(): void {
    this.server?.signal('SIGSTOP');
  }

  resume(): void {
    this.server?.signal('SIGCONT');
  }

  /** Killed (SIGKILL), as a crashed gateway. */
  async stop(): Promise<void> {
    await this.server?.kill();
  }
}
