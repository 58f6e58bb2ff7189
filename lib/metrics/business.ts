// Business counters, recorded by lib/shop through these functions; the families know no shop rules.
import { Counter } from 'prom-client';
import { registry } from './registry.ts';


export const ordersCreated = new Counter({
  name: 'orders_created_total',
  help: 'Orders created, by their status at creation.',
  labelNames: ['status'] as const,
  registers: [registry],
});
export const orderStatusTransitions = new Counter({
  name: 'order_status_transitions_total',
  help: 'Order status changes, by previous and new status.',
  labelNames: ['from', 'to'] as const,
  registers: [registry],
});
export const revenue = new Counter({
  name: 'revenue_total',
  help: 'Value of created orders in currency minor units (cents), by currency.',
  labelNames: ['currency'] as const,
  registers: [registry],
});
export const productViews = new Counter({
  name: 'product_views_total',
  help: 'Product detail views, by product category.',
  labelNames: ['category'] as const,
  registers: [registry],
});
export const userRegistrations = new Counter({
  name: 'user_registrations_total',
  help: 'Accounts registered.',
  registers: [registry],
});
export const userLogins = new Counter({
  name: 'user_logins_total',
  help: 'Login attempts, by result.',
  labelNames: ['result'] as const,
  registers: [registry],
});

ordersCreated.inc({ status: 'pending' }, 0);
for (const result of ['success', 'failure', 'locked'] as const) userLogins.inc({ result }, 0);
userRegistrations.inc(0);

export const business = {
  orderCreated(order: { status: string; totalCents: number; currency: string }): void {
    ordersCreated.inc({ status: order.status });
    revenue.inc({ currency: order.currency }, order.totalCents);
  },
  orderStatusChanged(from: string, to: string): void {
    orderStatusTransitions.inc({ from, to });
  },
  productViewed(category: string): void {
    productViews.inc({ category });
  },
  userRegistered(): void {
    userRegistrations.inc();
  },
  /** `locked`: refused without reading the password, after too many failures on the account. */
  loginAttempted(result: 'success' | 'failure' | 'locked'): void {
    userLogins.inc({ result });
  },
};
