// Postgres stops under login traffic for one account (Redis, which holds the attempt counts, stays up). The
// logins it cannot answer are 503s, not failed attempts: no one is told 429 during or after the outage, the
// account's owner logs in as soon as the database is back, and wrong passwords are still counted after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionContainer, sleep, type Reply } from '../../support/function-container.ts';
import { PostgresProcess, postgresBin } from '../../../scripts/servers/postgres.ts';
import { requireBinaries } from '../../../scripts/servers/process.ts';
import { prepareDatabase } from '../../../lib/db/prepare.ts';
import { unique } from '../../support/fixtures.ts';

const MAX_FAILURES = 5;
// Each round sends these at once, one per container. Wrong ones left by the round before (at most WRONG) plus
// a whole round stay within MAX_FAILURES, so the traffic alone never reaches the lock: any 429 is the outage's.
const CORRECT = 3;
const WRONG = 1;
const OUTAGE_MS = 3000;

const bin = postgresBin();
const servers = requireBinaries(bin !== undefined && Boolean(process.env.REDIS_URL), 'the PostgreSQL server binaries (initdb, pg_ctl) and REDIS_URL');

describe.runIf(servers)('Postgres stopped under login traffic', () => {
  let postgres: PostgresProcess;
  beforeAll(async () => {
    postgres = await PostgresProcess.create(bin!);
    await prepareDatabase(postgres.url);
  });
  afterAll(async () => postgres?.destroy());

  it('answers 503 without counting the attempts, and lets the right password in once the database is back', async () => {
    // Prepare
    const containers = Array.from({ length: CORRECT + WRONG }, () =>
      new FunctionContainer({
        DATABASE_URL: postgres.url,
        REDIS_URL: process.env.REDIS_URL!,
        PUSHGATEWAY_URL: '',
        LOGIN_MAX_FAILURES: String(MAX_FAILURES),
        AWS_LAMBDA_FUNCTION_NAME: 'faults-login',
        LOG_LEVEL: 'error',
      }),
    );
    try {
      const email = `${unique('outage')}@example.com`;
      const registered = await containers[0]!.call('POST /api/users/register', { body: { email, password: 'right-password', name: 'Outage' } });
      expect(registered.status).toBe(201);
      const login = (container: FunctionContainer, password: string) => container.call('POST /api/users/login', { body: { email, password } });
      const round = () =>
        Promise.all(containers.map((container, i) => login(container, i < CORRECT ? 'right-password' : 'wrong-password')));

      // Act: rounds of concurrent logins; Postgres stops under them and stays down for OUTAGE_MS
      const replies: { down: boolean; reply: Reply }[] = [];
      let down = false;
      let stopping = false;
      const traffic = (async () => {
        while (!stopping) {
          const wasDown = down;
          for (const reply of await round()) replies.push({ down: wasDown && down, reply });
        }
      })();
      await sleep(1000);
      await postgres.stop();
      down = true;
      await sleep(OUTAGE_MS);
      stopping = true;
      await traffic;
      await postgres.start();
      const afterwards = await login(containers[0]!, 'right-password');
      // The limit still holds for wrong passwords: MAX_FAILURES of them, then a lock even for the right one.
      const wrong = [];
      for (let i = 0; i < MAX_FAILURES; i++) wrong.push((await login(containers[CORRECT]!, 'wrong-password')).status);
      const locked = await login(containers[0]!, 'right-password');

      // Assess
      const duringOutage = replies.filter((r) => r.down).map((r) => r.reply);
      console.log(`login outage: ${replies.length} logins, ${duringOutage.length} sent while Postgres was down; statuses ${Object.entries(Object.groupBy(replies, (r) => r.reply.status)).map(([status, all]) => `${all!.length} × ${status}`).join(', ')}`);
      expect(duringOutage.length).toBeGreaterThanOrEqual(2 * (CORRECT + WRONG));
      expect(duringOutage.map((r) => r.status)).toEqual(duringOutage.map(() => 503));
      expect(JSON.parse(duringOutage[0]!.body)).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } });
      expect(replies.filter((r) => ![200, 401, 503].includes(r.reply.status))).toEqual([]);
      expect(afterwards.status).toBe(200);
      expect(wrong).toEqual(Array(MAX_FAILURES).fill(401));
      expect(locked.status).toBe(429);
    } finally {
      await Promise.all(containers.map((c) => c.terminate()));
    }
  });
});
