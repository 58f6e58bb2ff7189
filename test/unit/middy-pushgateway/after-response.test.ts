import { describe, expect, it } from 'vitest';
import { createHolds } from '../../../packages/middy-pushgateway/src/after-response.ts';

const later = () => {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { work: () => promise, done: resolve };
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

  it('start the work after the current turn of the event loop, and say when it starts', async () => {
    const holds = createHolds();
    const order: string[] = [];
    const start = holds.nextStart().then(() => order.push('told'));
    holds.hold('x', async () => void order.push('work'));
    setImmediate(() => order.push('response posted')); // as the runtime client does once the handler settled
    await holds.settled('x', Date.now() + 10_000);
    await start;
    expect(order).toEqual(['response posted', 'work', 'told']);
  });

  it('let the extension go at the deadline when the invocation never handed anything over', async () => {
    const holds = createHolds();
    const started = Date.now();
    await holds.settled('never', started + 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('count work that already settled', async () => {
    const holds = createHolds();
    holds.hold('done', () => Promise.resolve());
    expect(await state(holds.settled('done', Date.now() + 10_000))).toBe('settled');
  });
});
