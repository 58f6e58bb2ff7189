// Every family of the contract passes `promtool check metrics`, as prom-client exposes it and as the pusher
// renders it, and so do the collector's business gauges.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { registry } from '../../../../lib/metrics/registry.ts';
import { pushMetrics } from '../../../../lib/metrics/container.ts';
import { render, snapshot } from '../../../../packages/middy-pushgateway/src/exposition.ts';
import { businessRegistry } from '../../../../lib/metrics/business-gauges.ts';
import { api } from '../../../../lib/http/api.ts';
import { ok } from '../../../../lib/http/responses.ts';
import { business } from '../../../../lib/metrics/business.ts';
import { observeQuery } from '../../../../lib/metrics/database.ts';
import { observeCacheOperation } from '../../../../lib/metrics/cache.ts';
import { countError } from '../../../../lib/metrics/errors.ts';
import { eventMetrics } from '../../../../lib/metrics/events.ts';
import { httpEvent, lambdaContext } from '../../../../scripts/support/lambda.ts';

const promtool = process.env.PROMTOOL ?? 'promtool';
const available = spawnSync(promtool, ['--version']).status === 0;

function check(exposition: string): { status: number | null; output: string } {
  const result = spawnSync(promtool, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.runIf(available || process.env.CI)('the exposition', () => {
  it('passes promtool check metrics with every family recorded', async () => {
    // Prepare: one of everything
    await api(async () => ok({}), { route: 'GET /lint' })(httpEvent('GET /lint'), lambdaContext());
    business.orderCreated({ status: 'pending', totalCents: 500, currency: 'EUR' });
    business.orderStatusChanged('pending', 'paid');
    business.productViewed('books');
    business.userRegistered();
    business.loginAttempted('failure');
    observeQuery({ operation: 'select', table: 'products' }, 0.002);
    observeCacheOperation('get', 'hit', 0.0003);
    countError('unhandled', 'handler', 'critical');
    eventMetrics.delivered('failed');
    eventMetrics.backlog([{ detailType: 'OrderCreated', pending: 2, oldestAgeSeconds: 61 }]);
    await pushMetrics('exposition-lint');
    // Act
    const exposition = await registry.metrics();
    const rendered = render((await snapshot(registry)).families.values(), (await snapshot(registry)).series.values());
    // Assess
    for (const family of ['http_requests_total', 'http_request_duration_seconds', 'db_query_duration_seconds', 'db_pool_connections', 'cache_operations_total', 'cache_operation_duration_seconds', 'orders_created_total', 'order_status_transitions_total', 'revenue_total', 'product_views_total', 'user_registrations_total', 'user_logins_total', 'errors_total', 'function_cold_starts_total', 'function_invocations_total', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'process_start_time_seconds']) {
      expect(exposition, family).toContain(`# HELP ${family} `);
    }
    expect(check(exposition)).toEqual({ status: 0, output: '' });
    expect(check(rendered)).toEqual({ status: 0, output: '' });
  });

  it('passes promtool check metrics for the business gauges', async () => {
    const gauges = businessRegistry({ ordersByStatus: { pending: 2, paid: 1 }, productsByCategory: { books: 6 }, revenueByCurrency: { EUR: 1234 } });
    expect(check(await gauges.metrics())).toEqual({ status: 0, output: '' });
  });
});
