// This container's metrics pipeline: every family of the contract on the private registry, and the pusher
// that each invocation hands its values to. Without PUSHGATEWAY_URL nothing is pushed (said once, at start).
// Only the bundles of functions that push at the end of every invocation import this module (lib/http/api.ts,
// the outbox relay): on Lambda, with METRICS_AFTER_RESPONSE, it registers an extension that expects that push.
import { config } from '../config.ts';
import { describeError, log } from '../log.ts';
import { registry } from './registry.ts';
import { createPusher, type Pusher, type PushStatus } from './pusher.ts';
import { createRedisSlotStore } from './slots.ts';
import { guardFreezes, type FreezeGuard } from './after-response.ts';
import './families.ts';

// Lambda sends SIGTERM before a shutdown only to a runtime with an extension, and kills it 500 ms later at most.
const SHUTDOWN_BUDGET_MS = 400;

let pusher: Pusher | undefined;
let guard: FreezeGuard | undefined;
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
  if (config.metrics.afterResponse && config.metrics.runtimeApi) {
    guard = await guardFreezes(config.metrics.runtimeApi, (message, err) => log.error(message, describeError(err)));
    if (guard) {
      const shutdown = pusher.shutdown;
      // Once done, the signal again, now with its default action: process.exit() waits for the runtime client's
      // native thread, blocked in its request for the next invocation, and would be SIGKILLed in that wait.
      process.once('SIGTERM', () => {
        const budget = new Promise((resolve) => setTimeout(resolve, SHUTDOWN_BUDGET_MS));
        void Promise.race([shutdown(), budget]).finally(() => process.kill(process.pid, 'SIGTERM'));
      });
    }
  }
} else {
  log.info('PUSHGATEWAY_URL is not set: metrics are recorded but not pushed');
}

/**
 * Ends an invocation's metrics: hands the push to the extension when it holds the freeze (the response goes at
 * once), otherwise awaited before the handler returns (a frozen container would lose it). Bounded, never throws.
 */
export const pushMetrics = async (requestId: string): Promise<void> => {
  if (!pusher) return;
  if (guard) return guard.hold(requestId, pusher.push);
  return pusher.push();
};

export const pushStatus = (): PushStatus | undefined => pusher?.status();
