import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../../../lib/shop/outbox.ts';

describe('the outbox retry schedule', () => {
  it('doubles from 30 seconds after each failed attempt and stays at 15 minutes from the sixth on', () => {
    // Act
    const delays = Array.from({ length: 9 }, (_, n) => retryDelayMs(n + 1) / 1000);

    // Assess
    expect(delays).toEqual([30, 60, 120, 240, 480, 900, 900, 900, 900]);
  });

  it('never gives up: an event that failed a thousand times is still tried every 15 minutes', () => {
    expect(retryDelayMs(1000)).toBe(900_000);
  });
});
