// The flusher's sums (packages/middy-pushgateway/src/exact-sum.ts): the correctly rounded exact sum, whatever
// the order and grouping of the terms, so that a sum written again after groups were regrouped (retired into a
// total) never comes out lower.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addExact, roundExact } from '../../../packages/middy-pushgateway/src/exact-sum.ts';

const exactSum = (terms: number[]) => {
  const partials: number[] = [];
  for (const t of terms) addExact(partials, t);
  return roundExact(partials);
};
// Durations as a histogram's _sum adds them: small positive floats of every magnitude.
const term = fc.double({ min: 1e-7, max: 1e3, noNaN: true });

describe('exact sums', () => {
  it('gives the correctly rounded sum where plain addition does not', () => {
    // Act, Assess
    expect(0.1 + 0.2 + 0.3).toBe(0.6000000000000001);
    expect(exactSum([0.1, 0.2, 0.3])).toBe(0.6);
    expect(exactSum([1e16, 1, -1e16])).toBe(1);
    expect(exactSum([])).toBe(0);
  });

  it('does not depend on the order of the terms, nor on a part of them summed first (a retired total)', () => {
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 40 }), fc.nat(), (terms, cut) => {
        // Prepare: some terms folded into partials of their own first, as retiring groups does
        const at = cut % terms.length;
        const folded: number[] = [];
        for (const t of terms.slice(0, at)) addExact(folded, t);
        const regrouped = [...folded];
        for (const t of terms.slice(at).reverse()) addExact(regrouped, t);
        // Act, Assess
        expect(roundExact(regrouped)).toBe(exactSum(terms));
      }),
    );
  });

  it('never goes down when a term grows or one is added', () => {
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 40 }), fc.nat(), term, (terms, which, more) => {
        // Prepare
        const grown = [...terms];
        grown[which % terms.length]! += more;
        // Act, Assess
        expect(exactSum(grown)).toBeGreaterThanOrEqual(exactSum(terms));
        expect(exactSum([...terms, more])).toBeGreaterThanOrEqual(exactSum(terms));
      }),
    );
  });
});
