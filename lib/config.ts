// The only module that reads process.env. Everything is parsed and checked once per container, so a
// misconfiguration fails the cold start loudly instead of surfacing as odd behaviour per request.
import { z } from 'zod';

const DEV_JWT_SECRET = 'local-development-secret-not-for-deployment';
export const LOCAL_ADMIN = Object.freeze({ email: 'admin@shop.local', password: 'admin-password' });

const optionalUrl = z.url().optional();
const wholeNumber = (fallback: number, { allowZero = false } = {}) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(allowZero ? z.number().int().nonnegative() : z.number().int().positive())
    .default(fallback);
const positiveInt = (fallback: number) => wholeNumber(fallback);

const envSchema = z.object({
  SERVICE_NAME: z.string().default('serverless-shop'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  STAGE: z.string().default('dev'),
  AWS_REGION: z.string().default('us-east-1'),
  AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
  // serverless-offline sets IS_OFFLINE, `serverless invoke local` sets IS_LOCAL, vitest sets VITEST.
  IS_OFFLINE: z.string().optional(),
  IS_LOCAL: z.string().optional(),
  VITEST: z.string().optional(),

  DATABASE_URL: optionalUrl,
  DB_POOL_MAX: positiveInt(5),
  DB_STATEMENT_TIMEOUT_MS: positiveInt(5000),
  DB_CONNECT_TIMEOUT_MS: positiveInt(2000),
  // Relative to the project; unset: .data/postgres, or as root one under the system temp dir (lib/db/embedded.ts).
  EMBEDDED_DB_DIR: z.string().optional(),
  EMBEDDED_DB_PORT: positiveInt(54329),
  // Relative to the working directory: scripts and `serverless` commands run from the project root.
  MIGRATIONS_DIR: z.string().default('lib/db/migrations'),

  REDIS_URL: optionalUrl,
  REDIS_COMMAND_TIMEOUT_MS: positiveInt(100),
  CACHE_TTL_SECONDS: positiveInt(60),

  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  JWT_SECRET_ID: z.string().optional(),
  TOKEN_TTL_SECONDS: positiveInt(3600),
  // Failed logins on one account before its logins answer 429, and for how long after the last one let through.
  LOGIN_MAX_FAILURES: positiveInt(5),
  LOGIN_LOCK_SECONDS: positiveInt(900),
  EVENT_BUS_NAME: z.string().optional(),

  ADMIN_EMAIL: z.email().optional(),
  ADMIN_PASSWORD: z.string().min(8).optional(),

  MAX_BODY_BYTES: positiveInt(16 * 1024),
  CORS_ORIGINS: z.string().default('*'),

  PUSHGATEWAY_URL: optionalUrl,
  PUSHGATEWAY_USERNAME: z.string().optional(),
  PUSHGATEWAY_PASSWORD: z.string().optional(),
  PUSH_TIMEOUT_MS: positiveInt(200),
  // At least the function's concurrency limit (reservedConcurrency in serverless.yml).
  METRICS_SLOTS: positiveInt(16),
  // An idle holder's last, unsent values reach the gateway through the janitor once its lease lapses.
  METRICS_LEASE_TTL_MS: positiveInt(60_000),
  // Gateway POSTs per slot at most this often; 0 sends one per invocation (see packages/middy-pushgateway/src/pusher.ts). As
  // often as Prometheus scrapes the gateway (monitoring/prometheus.yml): more POSTs would not be seen, and each
  // one costs the gateway a consistency check over everything it holds.
  METRICS_PUSH_INTERVAL_MS: wholeNumber(5000, { allowZero: true }),
  // Groups not pushed for this long, whose lease is gone, are deleted by the janitor.
  METRICS_STALE_AFTER_SECONDS: positiveInt(900),
  // Answer first, store the metrics after the response, before Lambda freezes the sandbox (an internal
  // extension holds the freeze; docs/design.md, "After the response"). Only where Lambda's Runtime API is.
  METRICS_AFTER_RESPONSE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  AWS_LAMBDA_RUNTIME_API: z.string().optional(),
  // How the fleet's metrics reach Prometheus (README "Metrics", docs/design.md "Past one gateway"): through the
  // Pushgateway, through remote write (containers store in Redis, the flushMetrics function sums and writes),
  // or both at once (each into its own Prometheus: both into one would count everything twice).
  METRICS_DELIVERY: z.enum(['pushgateway', 'remote-write', 'both']).default('pushgateway'),
  REMOTE_WRITE_URL: optionalUrl,
  REMOTE_WRITE_USERNAME: z.string().optional(),
  REMOTE_WRITE_PASSWORD: z.string().optional(),
  REMOTE_WRITE_BEARER_TOKEN: z.string().optional(),
  // Mimir and Cortex take the tenant from X-Scope-OrgID; Thanos Receive from THANOS-TENANT by default.
  REMOTE_WRITE_TENANT: z.string().optional(),
  REMOTE_WRITE_TENANT_HEADER: z.string().default('X-Scope-OrgID'),
  // One flush every this often, as often as Prometheus scrapes the gateway: dashboards' rate windows fit both.
  METRICS_FLUSH_INTERVAL_MS: positiveInt(5000),
  // How long one scheduled flushMetrics invocation keeps flushing: its schedule's period less a margin.
  METRICS_FLUSH_FOR_SECONDS: positiveInt(45),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  // serverless.yml passes `${env:X, ''}` through: an empty variable means unset.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const local = Boolean(e.IS_OFFLINE || e.IS_LOCAL || e.VITEST || !e.AWS_LAMBDA_FUNCTION_NAME);
  if (!local && !e.JWT_SECRET && !e.JWT_SECRET_ID) {
    throw new Error('Invalid configuration: JWT_SECRET or JWT_SECRET_ID is required when deployed');
  }
  if (!local && !e.DATABASE_URL) {
    throw new Error('Invalid configuration: DATABASE_URL is required when deployed');
  }
  if (e.METRICS_DELIVERY !== 'pushgateway') {
    const missing = [!e.REDIS_URL && 'REDIS_URL (the containers store there)', !e.REMOTE_WRITE_URL && 'REMOTE_WRITE_URL'].filter(Boolean);
    if (missing.length > 0) throw new Error(`Invalid configuration: METRICS_DELIVERY=${e.METRICS_DELIVERY} needs ${missing.join(' and ')}`);
  }
  if (e.METRICS_DELIVERY === 'both' && !e.PUSHGATEWAY_URL) throw new Error('Invalid configuration: METRICS_DELIVERY=both needs PUSHGATEWAY_URL');
  return Object.freeze({
    service: e.SERVICE_NAME,
    stage: e.STAGE,
    region: e.AWS_REGION,
    functionName: e.AWS_LAMBDA_FUNCTION_NAME ?? 'local',
    local,
    logLevel: e.LOG_LEVEL,
    database: Object.freeze({
      url: e.DATABASE_URL,
      poolMax: e.DB_POOL_MAX,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      embeddedDir: e.EMBEDDED_DB_DIR,
      embeddedPort: e.EMBEDDED_DB_PORT,
      migrationsDir: e.MIGRATIONS_DIR,
    }),
    cache: Object.freeze({
      redisUrl: e.REDIS_URL,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
      ttlSeconds: e.CACHE_TTL_SECONDS,
    }),
    auth: Object.freeze({
      // A fixed secret is only ever used off AWS (checked above), so local tokens survive restarts.
      jwtSecret: e.JWT_SECRET ?? (e.JWT_SECRET_ID ? undefined : DEV_JWT_SECRET),
      jwtSecretId: e.JWT_SECRET_ID,
      tokenTtlSeconds: e.TOKEN_TTL_SECONDS,
      login: Object.freeze({ maxFailures: e.LOGIN_MAX_FAILURES, lockSeconds: e.LOGIN_LOCK_SECONDS }),
    }),
    events: Object.freeze({ busName: e.EVENT_BUS_NAME }),
    // Off AWS, a known admin makes the seeded shop usable at once (README, events/); deployed, only if set.
    seed: Object.freeze({
      adminEmail: e.ADMIN_EMAIL ?? (local ? LOCAL_ADMIN.email : undefined),
      adminPassword: e.ADMIN_PASSWORD ?? (local ? LOCAL_ADMIN.password : undefined),
    }),
    http: Object.freeze({
      maxBodyBytes: e.MAX_BODY_BYTES,
      corsOrigins: e.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
    }),
    metrics: Object.freeze({
      pushgatewayAuth:
        e.PUSHGATEWAY_USERNAME && e.PUSHGATEWAY_PASSWORD ? { username: e.PUSHGATEWAY_USERNAME, password: e.PUSHGATEWAY_PASSWORD } : undefined,
      pushTimeoutMs: e.PUSH_TIMEOUT_MS,
      slots: e.METRICS_SLOTS,
      leaseTtlMs: e.METRICS_LEASE_TTL_MS,
      pushIntervalMs: e.METRICS_PUSH_INTERVAL_MS,
      staleAfterSeconds: e.METRICS_STALE_AFTER_SECONDS,
      afterResponse: e.METRICS_AFTER_RESPONSE,
      runtimeApi: e.AWS_LAMBDA_RUNTIME_API,
      /** Where containers POST their groups; undefined when they do not (unset, or remote write alone). */
      gatewayUrl: e.METRICS_DELIVERY === 'remote-write' ? undefined : e.PUSHGATEWAY_URL,
      /** Set when the fleet's totals go out by remote write: the containers store in Redis for the flusher. */
      remoteWrite:
        e.METRICS_DELIVERY === 'pushgateway'
          ? undefined
          : Object.freeze({
              url: e.REMOTE_WRITE_URL!,
              auth: e.REMOTE_WRITE_BEARER_TOKEN
                ? { bearerToken: e.REMOTE_WRITE_BEARER_TOKEN }
                : e.REMOTE_WRITE_USERNAME && e.REMOTE_WRITE_PASSWORD
                  ? { username: e.REMOTE_WRITE_USERNAME, password: e.REMOTE_WRITE_PASSWORD }
                  : undefined,
              headers: e.REMOTE_WRITE_TENANT ? { [e.REMOTE_WRITE_TENANT_HEADER]: e.REMOTE_WRITE_TENANT } : undefined,
              flushIntervalMs: e.METRICS_FLUSH_INTERVAL_MS,
              flushForMs: e.METRICS_FLUSH_FOR_SECONDS * 1000,
            }),
    }),
  });
}

export const config: Config = loadConfig();
