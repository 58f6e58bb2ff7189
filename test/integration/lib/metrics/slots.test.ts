// Slot leases in a real Redis: which slot a container gets decides how many groups the gateway ends up holding.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { redisSlots } from '../../../support/redis-slots.ts';
import { unique } from '../../../support/fixtures.ts';

const redisUrl = process.env.REDIS_URL;

describe.runIf(redisUrl || process.env.CI)('Redis slot leases', () => {
  const slots = redisSlots(redisUrl!, 1000);
  afterAll(() => slots.close());

  it('gives concurrent claims the lowest free slots, each to one of them, and none once all are held', async () => {
    // Prepare
    const fn = unique('claims');
    // Act
    const leases = await Promise.all(Array.from({ length: 5 }, () => slots.claim(fn, 16, 60_000, randomUUID())));
    const beyond = await Promise.all([slots.claim(fn, 5, 60_000, randomUUID()), slots.claim(fn, 5, 60_000, randomUUID())]);
    // Assess
    expect(leases.map((l) => l!.id).sort()).toEqual(['0', '1', '2', '3', '4']);
    expect(new Set(leases.map((l) => l!.token)).size).toBe(5);
    expect(beyond).toEqual([undefined, undefined]);
  });

  it('hands out a lapsed slot again before any higher one', async () => {
    // Prepare
    const fn = unique('lapsed');
    const first = await slots.claim(fn, 8, 60_000, randomUUID());
    const brief = await slots.claim(fn, 8, 150, randomUUID());
    const third = await slots.claim(fn, 8, 60_000, randomUUID());
    // Act
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = await slots.claim(fn, 8, 60_000, randomUUID());
    // Assess
    expect([first?.id, brief?.id, third?.id]).toEqual(['0', '1', '2']);
    expect(next?.id).toBe('1');
    expect(next?.token).not.toBe(brief?.token);
  });

  it('gives a claim tried again with the same token the slot the first one took, not a second one', async () => {
    // Prepare
    const fn = unique('retried');
    const token = randomUUID();
    const first = await slots.claim(fn, 8, 60_000, token);
    // Act
    const again = await slots.claim(fn, 8, 60_000, token);
    const other = await slots.claim(fn, 8, 60_000, randomUUID());
    // Assess
    expect([first?.id, again?.id, other?.id]).toEqual(['0', '0', '1']);
  });

  it('keeps a lease valid by its own clock no longer than its TTL less the margin', async () => {
    // Prepare
    const before = Date.now();
    // Act
    const lease = await slots.claim(unique('valid'), 4, 5000, randomUUID());
    // Assess
    expect(lease!.validUntil).toBeGreaterThanOrEqual(before + 4000);
    expect(lease!.validUntil).toBeLessThanOrEqual(Date.now() + 4000);
  });
});
