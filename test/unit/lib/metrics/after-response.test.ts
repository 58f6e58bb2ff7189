import { describe, expect, it } from 'vitest';
import { createHolds } from '../../../../lib/metrics/after-response.ts';

const later = () => {
  let done!: () => void;
  const work = new Promise<void>((resolve) => (done = resolve));
  return { work, done };
};
const state = (p: Promise<unknown>) => Promise.race([p.then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('pending'), 20))]);

describe('the holds of the work invocations leave after their response', () => {
  it('keep the extension waiting until the work has settled, whichever side comes first', async () => {
    const holds = createHolds();
    const first = later();
    holds.hold('a', first.work); // the handler first
    const waitedA = holds.settled('a', Date.now() + 10_000);
    const waitedB = holds.settled('b', Date.now() + 10_000); // the extension first
    const second = later();
    holds.hold('b', second.work);

    expect(await state(waitedA)).toBe('pending');
    expect(await state(waitedB)).toBe('pending');
    first.done();
    expect(await state(waitedA)).toBe('settled');
    expect(await state(waitedB)).toBe('pending');
    second.done();
    expect(await state(waitedB)).toBe('settled');
  });

  it('let the extension go at the deadline when the invocation never handed anything over', async () => {
    const holds = createHolds();
    const started = Date.now();
    await holds.settled('never', started + 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('count work that already settled', async () => {
    const holds = createHolds();
    holds.hold('done', Promise.resolve());
    expect(await state(holds.settled('done', Date.now() + 10_000))).toBe('settled');
  });
});
