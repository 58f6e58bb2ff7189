// Bench-only stand-in for lib/metrics/http.ts: no timing hooks around the Middy stack.
export function metricsHooks(_route: string, _functionName: string, _push: (requestId: string) => Promise<void>): Record<string, never> {
  return {};
}
