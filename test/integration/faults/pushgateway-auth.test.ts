// A Pushgateway behind basic auth (--web.config.file, a bcrypt hash): containers with the right credentials
// push and count nothing as failed; without them, or with a wrong password, every push fails, is counted, and
// no request suffers. No password, nor its Authorization header, shows in the logs or in any answer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionContainer, type Reply } from '../../support/function-container.ts';
import { PushgatewayProcess, gatewayBinaryAvailable } from '../../../scripts/servers/pushgateway.ts';
import { freePort, requireBinaries } from '../../../scripts/servers/process.ts';
import { familyTotal } from '../../../scripts/support/gateway.ts';
import { aProduct, unique } from '../../support/fixtures.ts';
import { authHeaders, readGroups } from '../../../packages/middy-pushgateway/src/gateway.ts';

const USERNAME = 'shop';
const PASSWORD = 'gateway-secret-for-tests-7f3a9c';
const WRONG_PASSWORD = 'not-the-gateway-secret-51d0e2';
// bcrypt of PASSWORD at the lowest cost the gateway accepts (4), made once with libc's crypt, which every
// Debian has (no htpasswd, no bcrypt package needed):
//   perl -e 'print crypt("gateway-secret-for-tests-7f3a9c", q($2b$04$) . "Sh0pFaultTestSaltAbCd.")'
const PASSWORD_BCRYPT = '$2b$04$Sh0pFaultTestSaltAbCd.Mfzj8SKfIsm4c3EZ6uXPi1lnNMfqOHm';
const INVOCATIONS_PER_CONTAINER = 8;

const servers = requireBinaries(gatewayBinaryAvailable(), 'prometheus-pushgateway');

describe.runIf(servers)('Pushgateway basic auth', () => {
  const auth = { username: USERNAME, password: PASSWORD };
  let dir: string;
  let gateway: PushgatewayProcess;
  let productId: number;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shop-gateway-auth-'));
    const webConfig = path.join(dir, 'web.yml');
    writeFileSync(webConfig, `basic_auth_users:\n  ${USERNAME}: '${PASSWORD_BCRYPT}'\n`);
    gateway = new PushgatewayProcess(await freePort(), { args: [`--web.config.file=${webConfig}`], headers: authHeaders(auth) });
    await gateway.start();
    productId = (await aProduct()).id;
  });
  afterAll(async () => {
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A container with these credentials serves a few requests of every kind; answers what it saw. */
  async function serve(credentials: { username: string; password: string }) {
    const functionName = unique('faults-auth');
    const container = new FunctionContainer({
      DATABASE_URL: process.env.DATABASE_URL!,
      REDIS_URL: '', // one group per container, pushed by every invocation
      PUSHGATEWAY_URL: gateway.url,
      PUSHGATEWAY_USERNAME: credentials.username,
      PUSHGATEWAY_PASSWORD: credentials.password,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      PUSH_TIMEOUT_MS: '2000', // the gateway checks bcrypt on every push: the busy machine gets time
      LOG_LEVEL: 'debug',
    });
    try {
      const replies: Reply[] = [];
      for (let n = 0; n < INVOCATIONS_PER_CONTAINER - 3; n++) replies.push(await container.call('GET /api/products/{id}', { params: { id: String(productId) } }));
      const health = await container.call('GET /healthz');
      replies.push(health, await container.call('GET /info'), await container.call('GET /healthz/metrics'));
      // The scheduled janitor talks to the gateway with the same credentials (and logs its report).
      const janitor = await container.janitor().then((report) => JSON.stringify(report), (err: Error) => err.message);
      const groups = (await readGroups(gateway.url, { headers: authHeaders(auth) })).data.filter((g) => g.labels.function === functionName);
      return {
        replies,
        janitor,
        logs: container.logs,
        push: (await container.pushStatus())!,
        failuresCounted: (await container.metric('metrics_push_failures_total')).reduce((sum, v) => sum + v.value, 0),
        health: JSON.parse(health.body) as { status: string; checks: { pushgateway: { ok: boolean; error?: string } } },
        groups,
      };
    } finally {
      await container.terminate();
    }
  }

  it('pushes with the right credentials, counts pushes refused without them, and never shows a password', async () => {
    // Act
    const right = await serve(auth);
    const wrong = await serve({ username: USERNAME, password: WRONG_PASSWORD });
    const none = await serve({ username: '', password: '' });

    // Assess
    for (const [name, outcome] of Object.entries({ right, wrong, none })) {
      console.log(
        `${name} credentials: answers ${outcome.replies.map((r) => r.status).join(',')}, ${outcome.push.pushes} pushes, ${outcome.push.failures} failed ` +
          `(${outcome.push.lastPushError ?? 'no error'}), health ${outcome.health.status}, janitor ${outcome.janitor.slice(0, 60)}, ${outcome.groups.length} groups on the gateway, ${outcome.logs.length} log lines`,
      );
      expect(outcome.replies.every((r) => r.status === 200)).toBe(true); // a refused push never fails a request
      expect(outcome.failuresCounted).toBe(outcome.push.failures);
      const everything = [...outcome.logs, outcome.janitor, ...outcome.replies.map((r) => `${JSON.stringify(r.headers)} ${r.body}`)].join('\n');
      const basic = (password: string) => Buffer.from(`${USERNAME}:${password}`).toString('base64'); // as in an Authorization header
      for (const secret of [PASSWORD, WRONG_PASSWORD, basic(PASSWORD), basic(WRONG_PASSWORD)]) expect(everything).not.toContain(secret);
    }
    expect(right.push.failures).toBe(0);
    expect(right.push.pushes).toBe(INVOCATIONS_PER_CONTAINER);
    expect(familyTotal(right.groups, 'http_requests_total')).toBe(INVOCATIONS_PER_CONTAINER);
    expect(right.health).toMatchObject({ status: 'ok', checks: { pushgateway: { ok: true } } });
    expect(JSON.parse(right.janitor)).toEqual({ deleted: [], healed: [], retired: [] });
    for (const refused of [wrong, none]) {
      expect(refused.push.failures).toBe(INVOCATIONS_PER_CONTAINER);
      expect(refused.push.lastPushError).toContain('401');
      expect(refused.groups).toEqual([]);
      expect(refused.health).toMatchObject({ status: 'degraded', checks: { pushgateway: { ok: false, error: 'gateway answered 401' } } });
    }
  });
});
