// The first screen: is the shop serving, how fast, and is it selling.
import { ordersByStatus, ordersCreatedByStatus, productViewsByCategory, revenueByCurrency, revenueStat } from './business.ts';
import { colour, perMinute, query, rate, shop, shopDashboard, singleStat, thresholds, timeSeries, units } from './panels.ts';

const requests = rate(shop('http_requests_total'));
const serverErrors = rate(shop('http_requests_total', 'status_code=~"5.."'));
const latency = (q: number) => `histogram_quantile(${q}, sum by (le) (route_le:http_request_duration_seconds_bucket:rate5m))`;

export const overview = shopDashboard({
  uid: 'shop-overview',
  title: 'Serverless shop / Overview',
  description: 'Traffic, errors, latency, cache and sales of the serverless shop, from the metrics its functions push.',
  tags: ['overview'],
  bands: [
    {
      height: 4,
      panels: [
        singleStat({ title: 'Request rate', unit: units.RequestsPerSecond, description: 'HTTP requests answered per second, all routes.' }, query(`sum(${requests})`, 'requests')),
        singleStat(
          { title: 'Error ratio (5xx)', unit: units.PercentUnit, description: 'Share of requests answered with a 5xx (bugs and outages; caller mistakes are 4xx and not counted).' },
          query(`sum(${serverErrors}) / sum(${requests})`, '5xx'),
        ).thresholds(thresholds('green', [0.01, 'orange'], [0.05, 'red'])),
        singleStat({ title: 'p95 latency', unit: units.Seconds, description: '95th percentile of request duration inside the functions, all routes, over 5 minutes.' }, query(latency(0.95), 'p95'))
          .thresholds(thresholds('green', [0.25, 'orange'], [1, 'red'])),
        singleStat({ title: 'Cache hit ratio', unit: units.PercentUnit, description: 'Catalogue cache gets answered from the cache, over 5 minutes.' }, query('cache:hit_ratio:rate5m', 'hit ratio'))
          .thresholds(thresholds('red', [0.5, 'orange'], [0.8, 'green'])),
        singleStat({ title: 'Orders created', unit: units.CountsPerMinute, description: 'Orders created per minute, all statuses.' }, query(perMinute(`sum(${rate(shop('orders_created_total'))})`), 'orders')),
        revenueStat(),
      ],
    },
    {
      height: 8,
      panels: [
        timeSeries({ title: 'Request rate by route', unit: units.RequestsPerSecond, description: 'HTTP requests answered per second, by method and route template.' }, query(`sum by (method, route) (${requests})`, '{{method}} {{route}}')),
        timeSeries(
          { title: 'Error ratio by route (5xx / all)', unit: units.PercentUnit, description: 'Share of each route\'s requests answered with a 5xx, over 5 minutes (recording rule).' },
          query('route:http_requests_errors:ratio_rate5m', '{{route}}'),
        ),
      ],
    },
    {
      height: 8,
      panels: [
        timeSeries(
          { title: 'Latency p50 / p95 / p99', unit: units.Seconds, description: 'Request duration quantiles over all routes, over 5 minutes (from the recorded bucket rates). Per route: Performance dashboard.' },
          query(latency(0.5), 'p50'),
          query(latency(0.95), 'p95'),
          query(latency(0.99), 'p99'),
        ),
        timeSeries({ title: 'Cache hit ratio over time', unit: units.PercentUnit, description: 'Catalogue cache gets answered from the cache, over 5 minutes (recording rule). Errors count as misses.' }, query('cache:hit_ratio:rate5m', 'hit ratio'))
          .max(1),
      ],
    },
    { height: 8, panels: [ordersByStatus(), ordersCreatedByStatus(), revenueByCurrency()] },
    {
      height: 8,
      panels: [
        productViewsByCategory(),
        timeSeries({ title: 'Logins by result', unit: units.CountsPerMinute, description: 'Login attempts per minute: successful, failed, and refused on an account locked after repeated failures. A jump in failures is a guessing attack.' }, query(perMinute(`sum by (result) (${rate(shop('user_logins_total'))})`), '{{result}}'))
          .overrideByName('success', colour('green'))
          .overrideByName('failure', colour('red'))
          .overrideByName('locked', colour('orange')),
      ],
    },
  ],
});
