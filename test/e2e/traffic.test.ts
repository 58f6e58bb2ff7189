// The traffic generator (npm run traffic) against serverless-offline: a few seconds of its mix hit every
// route, every deliberate mistake gets its 4xx, nothing answers 5xx, and the orders it reports exist.
// It works on products of its own category, so that the other e2e files' products keep their stock.
import { beforeAll, describe, expect, it } from 'vitest';
import { BAD_INPUT_STEPS, MIX_ROUTES, STATUS_CLASSES, runTraffic, type TrafficReport } from '../../scripts/traffic/generator.ts';
import { adminToken, baseUrl, call, createProductAs, unique } from '../support/http.ts';
import { TEST_ADMIN } from '../support/test-env.ts';

const category = unique('traffic').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40);
// Long enough for a random mix after the first pass, which meets the functions' cold starts.
const DURATION_MS = 10_000;
const RPS = 15;
let admin: string;
let report: TrafficReport;

const answers = (route: string) => STATUS_CLASSES.reduce((sum, c) => sum + (report.byRoute[route]?.[c] ?? 0), 0);
const sumOf = (statusClass: (typeof STATUS_CLASSES)[number]) => Object.values(report.byRoute).reduce((sum, counts) => sum + counts[statusClass], 0);

beforeAll(async () => {
  admin = await adminToken();
  for (let n = 0; n < 4; n++) await createProductAs(admin, { category, stock: 40, priceCents: 500 + n * 100 });
  report = await runTraffic({ baseUrl: baseUrl(), durationMs: DURATION_MS, rps: RPS, concurrency: 4, admin: TEST_ADMIN, category });
}, 120_000);

describe('the traffic generator against the shop', () => {
  it('hits every route of its mix', () => {
    for (const route of MIX_ROUTES) expect(answers(route), route).toBeGreaterThan(0);
    expect(Object.keys(report.byRoute).sort()).toEqual([...MIX_ROUTES].sort());
  });

  it('gets no 5xx and no failed request', () => {
    expect(sumOf('5xx')).toBe(0);
    expect(sumOf('error')).toBe(0);
  });

  it('gets the expected 4xx for every deliberate mistake, and only expected answers otherwise', () => {
    for (const step of BAD_INPUT_STEPS) expect(report.steps[step], step).toBeGreaterThan(0);
    expect(sumOf('4xx')).toBeGreaterThanOrEqual(BAD_INPUT_STEPS.length);
    expect(report.unexpected).toEqual([]);
  });

  it('creates orders that the shop has, and moves some to delivered', async () => {
    expect(report.createdOrderIds.length).toBeGreaterThan(1);
    const statuses = await Promise.all(report.createdOrderIds.map(async (id) => (await call('GET', `/api/orders/${id}`, { token: admin })).body.status));
    expect(statuses).toContain('delivered');
    expect(statuses).toContain('cancelled');
    expect(statuses.every((s) => ['pending', 'paid', 'shipped', 'delivered', 'cancelled'].includes(s))).toBe(true);
  });

  it('keeps to its rate, and goes on after the first pass until the time is up', () => {
    const requests = STATUS_CLASSES.reduce((sum, c) => sum + sumOf(c), 0);
    expect(requests / (report.elapsedMs / 1000)).toBeLessThanOrEqual(RPS * 1.1);
    expect(report.steps.browse).toBeGreaterThan(1);
    expect(report.elapsedMs).toBeGreaterThanOrEqual(DURATION_MS);
  });
});
