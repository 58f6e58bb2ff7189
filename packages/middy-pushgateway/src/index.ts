// Prometheus metrics for Middy-wrapped Lambda functions, pushed to a Pushgateway with totals that stay exact
// across a fleet of containers (README.md).
export { prometheusPush, type PrometheusPush, type PrometheusPushOptions } from './prometheus-push.ts';
export { runJanitor, type JanitorOptions, type JanitorReport } from './janitor.ts';
export { createRedisSlotStore, type SlotStore, type StoredSeries } from './slots.ts';
/** A registry read as series (labels as strings): what a store or a push carries. */
export { snapshot } from './exposition.ts';
export { authHeaders, DEFAULT_JOB, gatewayRequest, groupUrl, type GatewayAuth, type GatewayRequest } from './gateway.ts';
export { routeOf } from './request-metrics.ts';
export type { PushStatus } from './pusher.ts';
export { flushFleet, startFlusher, fleetSeries, gaugeSeries, FLUSH_LOCK_MS, type FlushOptions, type FlushReport, type FlusherLoop } from './flusher.ts';
export { postWriteRequest, RemoteWriteError, type RemoteWriteAuth, type RemoteWriteOptions } from './remote-write.ts';
