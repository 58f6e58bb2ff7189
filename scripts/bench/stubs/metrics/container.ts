// Bench-only stand-in for lib/metrics/container.ts: no timing hooks around the Middy stack, nothing recorded,
// nothing pushed (the "without metrics" build and the in-process "bare" variant of `npm run bench`).
export const metrics = { plugin: (_options?: { route?: string }): Record<string, never> => ({}) };
export const pushMetrics = async (_requestId: string): Promise<void> => {};
export const pushStatus = (): undefined => undefined;
