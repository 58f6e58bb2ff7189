// Slot leases in a real Redis: which slot a container gets decides how many groups the gateway ends up holding.
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisSlotStore } from '../../../../lib/metrics/slots.ts';
import { unique } from '../../../support/fixtures.ts';

const redisUrl = process.env.REDIS_URL;

describe.runIf(redisUrl || process.env.CI)('Redis slot leases', () => {
  const slots = createRedisSlotStore(redisUrl!, 1000);
  afterAll(() => slots.close());

  it('gives concurrent claims the lowest free slots, each to one of them, and none once all are held', async () => {
    // Prepare
    const fn = unique('claims');
    // Act
    const leases = await Promise.all(Array.from({ length: 5 }, () => slots.claim(fn, 16, 60_000)));
    const beyond = await Promise.all([slots.claim(fn, 5, 60_000), slots.claim(fn, 5, 60_000)]);
    // Assess
    expect(leases.map((l) => l!.slot).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(leases.map((l) => l!.token)).size).toBe(5);
    expect(beyond).toEqual([undefined, undefined]);
  });

  it('hands out a lapsed slot again before any higher one', async () => {
    // Prepare
    const fn = unique('lapsed');
    const first = await slots.claim(fn, 8, 60_000);
    const brief = await slots.claim(fn, 8, 150);
    const third = await slots.claim(fn, 8, 60_000);
    // Act
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = await slots.claim(fn, 8, 60_000);
    // Assess
    expect([first?.slot, brief?.slot, third?.slot]).toEqual([0, 1, 2]);
    expect(next?.slot).toBe(1);
    expect(next?.token).not.toBe(brief?.token);
  });

  it('keeps a lease valid by its own clock no longer than its TTL less the margin', async () => {
    // Prepare
    const before = Date.now();
    // Act
    const lease = await slots.claim(unique('valid'), 4, 5000);
    // Assess
    expect(lease!.validUntil).toBeGreaterThanOrEqual(before + 4000);
    expect(lease!.validUntil).toBeLessThanOrEqual(Date.now() + 4000);
  });
});
