import { Registry } from 'prom-client';

// One private registry per container: prom-client's global registry would also collect whatever any
// dependency registers, and its Pushgateway client pushes the global one by default.
export const registry = new Registry();

/** The `job` label of every group the shop writes to the Pushgateway. */
export const SHOP_JOB = 'serverless-shop';
