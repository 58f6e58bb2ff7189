import middy from '@middy/core';
import { Redis } from 'ioredis';
import { prometheusPush } from 'middy-pushgateway';

// Module scope: one per container. Each function's container loads this file for its own handler.
const { AWS_LAMBDA_FUNCTION_NAME, PUSHGATEWAY_URL, REDIS_URL, METRICS_JOB, PUSH_INTERVAL_MS, PUSH_TIMEOUT_MS } = process.env;
const metrics = prometheusPush({
  functionName: AWS_LAMBDA_FUNCTION_NAME,
  gatewayUrl: PUSHGATEWAY_URL, // unset or empty: recorded, not pushed
  job: METRICS_JOB || undefined,
  pushIntervalMs: Number(PUSH_INTERVAL_MS || 5000),
  timeoutMs: Number(PUSH_TIMEOUT_MS || 200), // how long a request may wait for the gateway
  // Push slots keep fleet totals exact; without Redis each container pushes a group of its own.
  slots: REDIS_URL ? { redis: new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 200 }), max: 16 } : undefined,
});

export const hello = middy(metrics.plugin()).handler(async () => ({ statusCode: 200, body: 'hello' }));

const items = { 1: 'apple', 2: 'pear' };
export const item = middy(metrics.plugin()).handler(async (event) => {
  const name = items[event.pathParameters.id];
  return name ? { statusCode: 200, body: JSON.stringify({ name }) } : { statusCode: 404, body: 'not found' };
});
