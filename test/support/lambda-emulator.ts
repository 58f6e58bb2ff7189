// A local Lambda for tests: the Runtime API and the Extensions API of one sandbox per `Sandbox`, a sandbox being
// a process running a real bundle under `aws-lambda-ric`, the runtime interface client of Lambda's Node images
// (its prebuilt native client; the package's install scripts, which would rebuild it, are not needed).
// Why and what it models: docs/design.md, "After the response". In short, as Lambda does it:
// - Init ends, and each invocation's phase ends, once the runtime and every registered extension have asked for
//   their next event; the sandbox is then frozen (SIGSTOP of the process, every thread) and thawed (SIGCONT)
//   for the next invocation. Each freeze is recorded with the requests still in flight through the watched
//   servers' proxies (test/support/tcp-watch.ts).
// - Extensions register during init only: once the runtime has asked for its first invocation, a registration
//   is refused.
// - An invocation's caller gets its answer when the runtime posts it; the phase may go on after it.
// - A phase longer than the function's timeout kills the sandbox (Lambda resets it).
// - Shutdown happens to an idle sandbox only: SIGTERM to the runtime when an extension is registered (then
//   SIGKILL after the grace period), SIGKILL at once when none is. `kill()` is SIGKILL at any moment: a crash.
// Not modelled: the Telemetry and Logs APIs, SHUTDOWN events (external extensions only), response streaming,
// memory limits, CPU throttling while frozen of anything but this process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import type net from 'node:net';
import { watchTcp, type TcpWatch } from './tcp-watch.ts';

const RIC = createRequire(import.meta.url).resolve('aws-lambda-ric');
const INIT_TIMEOUT_MS = 10_000; // Lambda's limit for the init phase

function sendEvent(res: http.ServerResponse, event: string): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Lambda-Extension-Event-Identifier': randomUUID() });
  res.end(event);
}

export interface SandboxOptions {
  functionName: string;
  /** LAMBDA_TASK_ROOT: the bundle, and a package.json of type module beside it. */
  taskRoot: string;
  /** `_HANDLER`, e.g. "get.handler" for get.js's `handler` export. */
  handler: string;
  /** The function's environment (nothing of the test process's is passed on but PATH). */
  env: Record<string, string>;
  timeoutMs: number;
  /** URL variables of `env` whose server is reached through a watched proxy, with its delay in ms. */
  watch?: Record<string, number>;
  /** Between SIGTERM and SIGKILL at shutdown; Lambda gives a runtime with an internal extension 500 ms. */
  shutdownGraceMs?: number;
  /**
   * Freeze as soon as the runtime waits, as if no extension held the freeze (not what Lambda does): shows what
   * the freeze would catch in flight without the extension. An extension still busy gets its event late.
   */
  freezeWithoutExtensions?: boolean;
}

export interface Invocation {
  requestId: string;
  /** answered: the runtime posted a response; failed: it posted an error; killed / timed out: the sandbox died first. */
  outcome: 'answered' | 'failed' | 'killed' | 'timed out';
  payload?: unknown;
  /** performance.now() of the invocation's start, its answer, and the end of its phase (all at `next`). */
  startedAt: number;
  answeredAt?: number;
  doneAt?: number;
}

export interface Freeze {
  at: number;
  /** The invocation whose phase ended with this freeze (none: the end of init). */
  after?: string;
  /** Per watched variable: requests sent through it and not yet answered when the sandbox was stopped. */
  inFlight: Record<string, number>;
}

type State = 'init' | 'frozen' | 'running' | 'dead';

interface Current {
  invocation: Invocation;
  answer: (invocation: Invocation) => void;
  timer: NodeJS.Timeout;
}

export class Sandbox {
  state: State = 'init';
  readonly freezes: Freeze[] = [];
  readonly invocations: Invocation[] = [];
  /** The last lines the sandbox wrote (stdout and stderr). */
  output = '';
  exitSignal: NodeJS.Signals | null = null;
  private child!: ChildProcess;
  private server!: http.Server;
  private watches = new Map<string, TcpWatch>();
  private runtimeWaiting: http.ServerResponse | undefined;
  private readonly extensions = new Map<string, { name: string; waiting?: http.ServerResponse; missed?: string }>();
  private registrationOpen = true;
  private current: Current | undefined;
  private idleWaiters: (() => void)[] = [];
  private exited!: Promise<void>;
  private initFailure: string | undefined;

  readonly options: SandboxOptions;

  private constructor(options: SandboxOptions) {
    this.options = options;
  }

  static async start(options: SandboxOptions): Promise<Sandbox> {
    const sandbox = new Sandbox(options);
    await sandbox.boot();
    return sandbox;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** performance.now() of the requests the sandbox sent through the watched variable's proxy. */
  requestTimes(variable: string): number[] {
    return this.watches.get(variable)?.requestTimes ?? [];
  }

  get extensionCount(): number {
    return this.extensions.size;
  }

  private async boot(): Promise<void> {
    this.server = http.createServer((req, res) => void this.route(req, res));
    // Long polls: an idle sandbox's `next` requests stay open for as long as it is frozen.
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const env: Record<string, string> = { ...this.options.env };
    for (const [name, delayMs] of Object.entries(this.options.watch ?? {})) {
      const url = new URL(env[name]!);
      const watch = await watchTcp({ host: url.hostname, port: Number(url.port) }, delayMs);
      this.watches.set(name, watch);
      url.host = `127.0.0.1:${watch.port}`;
      env[name] = url.toString().replace(/\/$/, '');
    }
    const port = (this.server.address() as net.AddressInfo).port;
    this.child = spawn(process.execPath, [RIC], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_OPTIONS: '--enable-source-maps',
        ...env,
        AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
        _HANDLER: this.options.handler,
        LAMBDA_TASK_ROOT: this.options.taskRoot,
        AWS_LAMBDA_FUNCTION_NAME: this.options.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${this.options.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: randomUUID(),
        AWS_REGION: env.AWS_REGION ?? 'eu-west-1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-8000));
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (_code, signal) => {
        this.exitSignal = signal;
        this.died();
        resolve();
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const tooLong = new Promise<void>((resolve) => (timer = setTimeout(resolve, INIT_TIMEOUT_MS)));
    await Promise.race([this.whenIdle(), tooLong]);
    clearTimeout(timer);
    if (this.state !== 'frozen') {
      this.initFailure ??= this.state === 'dead' ? 'exited' : `init took longer than ${INIT_TIMEOUT_MS} ms`;
      this.kill();
      await this.close();
      throw new Error(`sandbox ${this.options.functionName} did not initialise: ${this.initFailure}\n${this.output}`);
    }
  }

  /** Runs one invocation; resolves when the caller would get its answer (the phase may still be going on). */
  invoke(event: unknown): Promise<Invocation> {
    if (this.state !== 'frozen' || !this.runtimeWaiting) throw new Error(`sandbox is ${this.state}, not idle`);
    this.state = 'running';
    this.child.kill('SIGCONT');
    const requestId = randomUUID();
    const deadlineMs = Date.now() + this.options.timeoutMs;
    const arn = `arn:aws:lambda:eu-west-1:123456789012:function:${this.options.functionName}`;
    const invocation: Invocation = { requestId, outcome: 'killed', startedAt: performance.now() };
    this.invocations.push(invocation);
    const runtime = this.runtimeWaiting;
    this.runtimeWaiting = undefined;
    runtime.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': requestId,
      'Lambda-Runtime-Deadline-Ms': String(deadlineMs),
      'Lambda-Runtime-Invoked-Function-Arn': arn,
      'Lambda-Runtime-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Sampled=0`,
    });
    runtime.end(JSON.stringify(event));
    const invokeEvent = JSON.stringify({ eventType: 'INVOKE', deadlineMs, requestId, invokedFunctionArn: arn, tracing: { type: 'X-Amzn-Trace-Id', value: '' } });
    for (const extension of this.extensions.values()) {
      if (extension.waiting) sendEvent(extension.waiting, invokeEvent);
      else extension.missed = invokeEvent; // only with freezeWithoutExtensions
      extension.waiting = undefined;
    }
    return new Promise((answer) => {
      const timer = setTimeout(() => {
        if (invocation.outcome === 'killed' && invocation.answeredAt === undefined) invocation.outcome = 'timed out';
        this.kill();
      }, this.options.timeoutMs);
      this.current = { invocation, answer, timer };
    });
  }

  /** Resolves when the sandbox is frozen between invocations, or dead. */
  whenIdle(): Promise<void> {
    if (this.state === 'frozen' || this.state === 'dead') return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A crash: SIGKILL now, whatever the sandbox is doing. */
  kill(): void {
    if (this.state !== 'dead') this.child.kill('SIGKILL');
  }

  /** Lambda's shutdown of an idle sandbox; true if the runtime exited within the grace period. */
  async shutdown(): Promise<boolean> {
    await this.whenIdle();
    if (this.state === 'dead') return false;
    this.child.kill('SIGCONT');
    if (this.extensions.size === 0) {
      this.kill();
      await this.exited;
      return false;
    }
    this.child.kill('SIGTERM');
    const graceful = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), this.options.shutdownGraceMs ?? 500))]);
    this.kill();
    await this.exited;
    return graceful;
  }

  async close(): Promise<void> {
    this.kill();
    await this.exited;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    for (const watch of this.watches.values()) await watch.close();
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = req.url ?? '';
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      this.registrationOpen = false;
      this.runtimeWaiting = res;
      return this.phaseMayEnd();
    }
    const posted = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && posted) {
      reply(202, { status: 'OK' });
      return this.answered(decodeURIComponent(posted[1]!), posted[2] === 'response' ? 'answered' : 'failed', body);
    }
    if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
      reply(202, { status: 'OK' });
      this.initFailure = `init error: ${body}`;
      return this.kill();
    }
    if (req.method === 'POST' && url === '/2020-01-01/extension/register') {
      if (!this.registrationOpen) return reply(403, { errorType: 'Extension.RegistrationClosed', errorMessage: 'extensions register during init only' });
      const id = randomUUID();
      this.extensions.set(id, { name: String(req.headers['lambda-extension-name'] ?? '') });
      return reply(200, { functionName: this.options.functionName, functionVersion: '$LATEST', handler: this.options.handler }, { 'Lambda-Extension-Identifier': id });
    }
    if (req.method === 'GET' && url === '/2020-01-01/extension/event/next') {
      const extension = this.extensions.get(String(req.headers['lambda-extension-identifier']));
      if (!extension) return reply(403, { errorType: 'Extension.UnknownIdentifier', errorMessage: 'not registered' });
      if (extension.missed) {
        sendEvent(res, extension.missed);
        extension.missed = undefined;
        return;
      }
      extension.waiting = res;
      return this.phaseMayEnd();
    }
    reply(404, { errorType: 'NotFound', errorMessage: `${req.method} ${url}` });
  }

  private answered(requestId: string, outcome: 'answered' | 'failed', body: string): void {
    const current = this.current;
    if (!current || current.invocation.requestId !== requestId) return;
    current.invocation.outcome = outcome;
    current.invocation.answeredAt = performance.now();
    current.invocation.payload = body ? (JSON.parse(body) as unknown) : undefined;
    current.answer(current.invocation);
  }

  /** Freezes the sandbox once the runtime and every extension wait for their next event. */
  private phaseMayEnd(): void {
    if (!this.runtimeWaiting) return;
    if (!this.options.freezeWithoutExtensions && [...this.extensions.values()].some((e) => !e.waiting)) return;
    let after: string | undefined;
    if (this.state === 'running') {
      const current = this.current!;
      clearTimeout(current.timer);
      current.invocation.doneAt = performance.now();
      after = current.invocation.requestId;
      this.current = undefined;
    } else if (this.state !== 'init') {
      return;
    }
    this.child.kill('SIGSTOP');
    this.state = 'frozen';
    this.freezes.push({ at: performance.now(), after, inFlight: Object.fromEntries([...this.watches].map(([name, watch]) => [name, watch.inFlight()])) });
    this.wakeIdleWaiters();
  }

  private died(): void {
    this.state = 'dead';
    const current = this.current;
    this.current = undefined;
    if (current) {
      clearTimeout(current.timer);
      // Unanswered, it keeps the outcome it started with ('killed') or the timeout gave it.
      current.answer(current.invocation);
    }
    this.wakeIdleWaiters();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
