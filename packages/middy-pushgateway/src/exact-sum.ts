// Sums of floats that do not depend on the order or grouping of their terms: the exact sum, kept as
// non-overlapping partials (Shewchuk's algorithm, as Python's math.fsum), rounded once at the end.
//
// The flusher needs it. A float sum taken in another order (a group joined, or several groups' values were
// added into their function's retired total) may come out one unit lower in its last digit, and Prometheus
// reads any decrease of a counter, or of a histogram's `_sum`, as a reset. The correctly rounded exact sum
// can only grow when a term grows or is added, however the terms were grouped.

/** Adds `x` to the partials in place (each partial smaller in magnitude than the next, none overlapping). */
export function addExact(partials: number[], x: number): void {
  let kept = 0;
  for (let y of partials) {
    if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[kept++] = lo;
    x = hi;
  }
  partials.length = kept;
  partials.push(x);
}

/** The exact sum of the partials, correctly rounded (to nearest, ties to even). */
export function roundExact(partials: number[]): number {
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n]!;
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // Halfway between two floats: the partials below decide which way the exact sum leans.
  if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}
