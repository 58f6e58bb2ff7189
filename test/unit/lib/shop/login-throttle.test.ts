import { describe, expect, it } from 'vitest';
import {
  createLoginThrottle,
  createMemoryAttemptStore,
  withFallback,
  type AttemptStore,
} from '../../../../lib/shop/login-throttle.ts';
import { registry } from '../../../../lib/metrics/registry.ts';

const policy = { maxFailures: 5, lockSeconds: 900 };
const MINUTE = 60_000;

function throttleWithClock() {
  const clock = { now: 1_000_000 };
  const throttle = createLoginThrottle(createMemoryAttemptStore(() => clock.now), policy);
  return { clock, throttle };
}

const attempts = async (throttle: ReturnType<typeof createLoginThrottle>, email: string, n: number) => {
  const verdicts = [];
  for (let i = 0; i < n; i++) verdicts.push(await throttle.attempt(email));
  return verdicts;
};

const throttleErrors = async () =>
  (await registry.getSingleMetric('errors_total')!.get()).values.find((v) => v.labels.component === 'login_throttle')?.value ?? 0;

describe('the login throttle', () => {
  it('lets maxFailures attempts through and refuses the next with the whole lock still to wait', async () => {
    // Prepare
    const { throttle } = throttleWithClock();
    // Act
    const verdicts = await attempts(throttle, 'a@example.com', 6);
    // Assess
    expect(verdicts.slice(0, 5)).toEqual(Array(5).fill({ allowed: true }));
    expect(verdicts[5]).toEqual({ allowed: false, retryAfterSeconds: 900 });
  });

  it('keeps the lock for lockSeconds after the last attempt let through, however often it is knocked on', async () => {
    const { clock, throttle } = throttleWithClock();
    await attempts(throttle, 'a@example.com', 5);

    clock.now += 10 * MINUTE;
    expect(await throttle.attempt('a@example.com')).toEqual({ allowed: false, retryAfterSeconds: 300 });
    clock.now += 5 * MINUTE - 1;
    expect(await throttle.attempt('a@example.com')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock.now += 1;
    expect(await throttle.attempt('a@example.com')).toEqual({ allowed: true });
  });

  it('forgets failures lockSeconds after the latest one', async () => {
    const { clock, throttle } = throttleWithClock();
    await attempts(throttle, 'a@example.com', 4);
    clock.now += 15 * MINUTE;
    expect(await attempts(throttle, 'a@example.com', 5)).toEqual(Array(5).fill({ allowed: true }));
  });

  it('counts failures spread over more than the lock time while each follows the last within it', async () => {
    const { clock, throttle } = throttleWithClock();
    for (let i = 0; i < 5; i++) {
      expect(await throttle.attempt('a@example.com')).toEqual({ allowed: true });
      clock.now += 14 * MINUTE;
    }
    expect(await throttle.attempt('a@example.com')).toEqual({ allowed: false, retryAfterSeconds: 60 });
  });

  it('starts again from zero after a successful login', async () => {
    const { throttle } = throttleWithClock();
    await attempts(throttle, 'a@example.com', 4);
    await throttle.succeeded('a@example.com');
    expect(await attempts(throttle, 'a@example.com', 5)).toEqual(Array(5).fill({ allowed: true }));
    expect((await throttle.attempt('a@example.com')).allowed).toBe(false);
  });

  it('counts each account on its own', async () => {
    const { throttle } = throttleWithClock();
    await attempts(throttle, 'a@example.com', 6);
    expect(await throttle.attempt('b@example.com')).toEqual({ allowed: true });
  });

  it('lets no more than maxFailures of a concurrent burst through', async () => {
    const { throttle } = throttleWithClock();
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => throttle.attempt('a@example.com')));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
  });

  it('gives back attempts that ended without a verdict on the password, so an outage locks no one out', async () => {
    // Prepare: two wrong passwords, then an outage under which every attempt is let through and fails
    const { throttle } = throttleWithClock();
    await attempts(throttle, 'a@example.com', 2);
    const duringOutage = await attempts(throttle, 'a@example.com', 3);
    // Act
    for (let i = 0; i < 3; i++) await throttle.inconclusive('a@example.com');
    // Assess: the two wrong passwords still count, the outage's attempts do not
    expect(duringOutage).toEqual(Array(3).fill({ allowed: true }));
    expect(await attempts(throttle, 'a@example.com', 4)).toEqual([...Array(3).fill({ allowed: true }), { allowed: false, retryAfterSeconds: 900 }]);
  });

  it('holds the places of attempts in flight: a concurrent burst is cut at the limit even while each may end in an outage', async () => {
    // Prepare
    const { throttle } = throttleWithClock();
    // Act: 50 at once, then those let through end without a verdict
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => throttle.attempt('a@example.com')));
    const allowed = verdicts.filter((v) => v.allowed);
    await Promise.all(allowed.map(() => throttle.inconclusive('a@example.com')));
    // Assess: the refused 45 were not counted, so nothing is left against the account
    expect(allowed).toHaveLength(5);
    expect(await attempts(throttle, 'a@example.com', 6)).toEqual([...Array(5).fill({ allowed: true }), { allowed: false, retryAfterSeconds: 900 }]);
  });

  it('does not let an attempt given back after a successful login count below zero', async () => {
    const { throttle } = throttleWithClock();
    await attempts(throttle, 'a@example.com', 2);
    await throttle.succeeded('a@example.com'); // a concurrent login succeeded while the other attempt was in flight
    await throttle.inconclusive('a@example.com');
    expect(await attempts(throttle, 'a@example.com', 6)).toEqual([...Array(5).fill({ allowed: true }), { allowed: false, retryAfterSeconds: 900 }]);
  });

  it('keys the store by a hash, never by the address', async () => {
    const seen: string[] = [];
    const spy: AttemptStore = {
      async hit(key) {
        seen.push(key);
        return { counted: true };
      },
      async release(key) {
        seen.push(key);
      },
      async clear(key) {
        seen.push(key);
      },
    };
    const throttle = createLoginThrottle(spy, policy);
    await throttle.attempt('victim@example.com');
    await throttle.inconclusive('victim@example.com');
    await throttle.succeeded('victim@example.com');
    expect(seen).toEqual([expect.stringMatching(/^login:attempts:[0-9a-f]{64}$/), seen[0], seen[0]]);
  });

  it('forgets the oldest accounts first when a spray of addresses fills the in-process store', async () => {
    const store = createMemoryAttemptStore(() => 0);
    await store.hit('first', MINUTE, 2);
    await store.hit('first', MINUTE, 2);
    for (let i = 0; i < 10_000; i++) await store.hit(`spray-${i}`, MINUTE, 2);
    await store.hit('spray-9999', MINUTE, 2);

    expect(await store.hit('spray-9999', MINUTE, 2)).toEqual({ counted: false, ttlMs: MINUTE });
    expect(await store.hit('first', MINUTE, 2)).toEqual({ counted: true });
  });

  it('counts in the container and in errors_total while Redis is down', async () => {
    // Prepare
    const closed = () => Promise.reject(new Error('Connection is closed.'));
    const down: AttemptStore = { hit: closed, release: closed, clear: closed };
    const throttle = createLoginThrottle(withFallback(down, createMemoryAttemptStore()), policy);
    const before = await throttleErrors();
    // Act
    const verdicts = await attempts(throttle, 'a@example.com', 6);
    await throttle.inconclusive('a@example.com');
    const afterGivingBack = await throttle.attempt('a@example.com');
    await throttle.succeeded('b@example.com');
    // Assess
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, true, true, false]);
    expect(afterGivingBack.allowed).toBe(true);
    expect(await throttleErrors()).toBe(before + 9);
  });
});
