// The slot store on a connection of the shop's (lib/redis.ts), with a close() that lets the connection go.
import { connectRedis } from '../../lib/redis.ts';
import { createRedisSlotStore, type SlotStore } from '../../packages/middy-pushgateway/src/slots.ts';

export function redisSlots(url: string, commandTimeoutMs: number, job?: string): SlotStore & { close(): void } {
  const connection = connectRedis(url, commandTimeoutMs);
  return Object.assign(createRedisSlotStore(connection.redis, job), { close: connection.release });
}
