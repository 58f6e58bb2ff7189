// `npm run traffic`: realistic shop traffic against a running shop, so that the dashboards come alive
// (scripts/traffic/generator.ts says what it does). Prints the answers by route and status class; exits 1 if
// any answer was a 5xx or a request failed, 2 if the run could not start.
//
//   npm run traffic -- [--base-url http://127.0.0.1:3000] [--duration 60s] [--rps 20] [--concurrency 8]
//
// The admin is ADMIN_EMAIL / ADMIN_PASSWORD (locally admin@shop.local / admin-password), as seeded.
import { parseArgs } from 'node:util';
import { config, LOCAL_ADMIN } from '../lib/config.ts';
import { formatReport, runTraffic } from './traffic/generator.ts';

const usage = 'usage: npm run traffic -- [--base-url URL] [--duration 30s|2m] [--rps N] [--concurrency N]';

function fail(message: string): never {
  console.error(`traffic: ${message}\n${usage}`);
  process.exit(2);
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number: ${value}`);
  return n;
}

function durationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(value);
  if (!match) fail(`--duration must be seconds, or a number with s or m: ${value}`);
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      'base-url': { type: 'string', default: 'http://127.0.0.1:3000' },
      duration: { type: 'string', default: '60s' },
      rps: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '8' },
    },
  }));
} catch (err) {
  fail((err as Error).message);
}
const baseUrl = values['base-url'];
if (!URL.canParse(baseUrl)) fail(`--base-url is not a URL: ${baseUrl}`);

// Ctrl-C ends the run early; the summary still prints.
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());

const options = {
  baseUrl,
  durationMs: durationMs(values.duration),
  rps: positive('rps', values.rps),
  concurrency: Math.ceil(positive('concurrency', values.concurrency)),
  admin: { email: config.seed.adminEmail ?? LOCAL_ADMIN.email, password: config.seed.adminPassword ?? LOCAL_ADMIN.password },
  signal: stop.signal,
};
console.log(`traffic: ${options.rps}/s over ${options.concurrency} workers for ${options.durationMs / 1000} s against ${baseUrl}`);
const report = await runTraffic(options).catch((err: unknown) => fail((err as Error).message));
console.log(formatReport(report));
const failed = Object.values(report.byRoute).reduce((sum, counts) => sum + counts['5xx'] + counts.error, 0);
if (failed > 0) {
  console.error(`traffic: ${failed} answers were 5xx or failed requests`);
  process.exit(1);
}
