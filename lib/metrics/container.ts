// This container's metrics, through the middy-pushgateway package (packages/middy-pushgateway), configured from
// the environment: every family of the contract on the private registry, and the pusher each invocation hands
// its values to: POSTed to the Pushgateway, stored in Redis for the remote-write flusher, or both
// (METRICS_DELIVERY). With neither, nothing is pushed (said once, at start).
// Only the bundles of functions that push at the end of every invocation import this module (lib/http/api.ts,
// the outbox relay): on Lambda, with METRICS_AFTER_RESPONSE, it registers an extension that expects that push.
import { prometheusPush, type PushStatus } from 'middy-pushgateway';
import { config } from '../config.ts';
import { describeError, log } from '../log.ts';
import { connectRedis } from '../redis.ts';
import { ANSWERED_STATUSES } from '../http/errors.ts';
import { registry, SHOP_JOB } from './registry.ts';
// The shop's own families, on the same registry.
import './database.ts';
import './cache.ts';
import './business.ts';
import './errors.ts';
import './events.ts';

const { metrics: settings } = config;
if (!settings.gatewayUrl && !settings.remoteWrite) log.info('PUSHGATEWAY_URL is not set: metrics are recorded but not pushed');

export const metrics = prometheusPush({
  registry,
  functionName: config.functionName,
  gatewayUrl: settings.gatewayUrl,
  remoteWrite: settings.remoteWrite !== undefined,
  auth: settings.pushgatewayAuth,
  job: SHOP_JOB,
  statusCodes: ANSWERED_STATUSES,
  timeoutMs: settings.pushTimeoutMs,
  pushIntervalMs: settings.pushIntervalMs,
  // Connected only when there is something to push: a connection opened at import would spend the cache's
  // first-command wait (lib/redis.ts) before the cache is used.
  slots:
    (settings.gatewayUrl || settings.remoteWrite) && config.cache.redisUrl
      ? { redis: connectRedis(config.cache.redisUrl, config.cache.commandTimeoutMs).redis, max: settings.slots, leaseTtlMs: settings.leaseTtlMs }
      : undefined,
  afterResponse: settings.afterResponse ? { runtimeApi: settings.runtimeApi, onError: (message, err) => log.error(message, describeError(err)) } : undefined,
});

/** Ends an invocation's metrics: after the response when the extension holds the freeze, else awaited. */
export const pushMetrics = (requestId: string): Promise<void> => metrics.push(requestId);

export const pushStatus = (): PushStatus | undefined => metrics.status();
