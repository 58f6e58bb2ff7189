// Bench-only stand-in for lib/metrics/container.ts: nothing recorded, nothing pushed (the "without metrics"
// build and the in-process "bare" variant of `npm run bench`).
export const pushMetrics = async (_requestId: string): Promise<void> => {};
export const pushStatus = (): undefined => undefined;
