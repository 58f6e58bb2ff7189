// This container's metrics pipeline: every family of the contract on the private registry, and the pusher
// that the request hooks await. Without PUSHGATEWAY_URL nothing is pushed (said once, at start).
import { config } from '../config.ts';
import { log } from '../log.ts';
import { registry } from './registry.ts';
import { createPusher, type Pusher, type PushStatus } from './pusher.ts';
import { createRedisSlotStore } from './slots.ts';
import './system.ts';
import './database.ts';
import './cache.ts';
import './business.ts';
import './errors.ts';
import './events.ts';

let pusher: Pusher | undefined;
if (config.metrics.pushgatewayUrl) {
  pusher = createPusher({
    registry,
    functionName: config.functionName,
    gatewayUrl: config.metrics.pushgatewayUrl,
    timeoutMs: config.metrics.pushTimeoutMs,
    slots: config.cache.redisUrl ? createRedisSlotStore(config.cache.redisUrl, config.cache.commandTimeoutMs) : undefined,
    maxSlots: config.metrics.slots,
    leaseTtlMs: config.metrics.leaseTtlMs,
    pushIntervalMs: config.metrics.pushIntervalMs,
    auth: config.metrics.pushgatewayAuth,
  });
} else {
  log.info('PUSHGATEWAY_URL is not set: metrics are recorded but not pushed');
}

/** Awaited before the handler returns (a frozen container would lose it); bounded and never throws. */
export const pushMetrics = async (): Promise<void> => pusher?.push();

export const pushStatus = (): PushStatus | undefined => pusher?.status();
