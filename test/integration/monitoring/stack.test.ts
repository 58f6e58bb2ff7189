// The configs as shipped in monitoring/ render into loopback copies that the local binaries accept, as
// `npm run stack` runs them: Prometheus finds every rule file by its absolute path, Alertmanager loads its
// copy. Locally a missing tool skips its test, naming the package; under CI=true the test runs, and fails.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { COMPOSE_PORTS, MONITORING_DIR, renderAll, type LocalPorts } from '../../../scripts/stack/render.ts';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const AMTOOL = process.env.AMTOOL ?? 'amtool';
// Any distinct ports will do: nothing listens, the tools only read the files.
const PORTS = Object.fromEntries(Object.keys(COMPOSE_PORTS).map((service, n) => [service, 40_000 + n])) as LocalPorts;

const out = mkdtempSync(path.join(os.tmpdir(), 'stack-configs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const files = renderAll(out, PORTS);

function check(ctx: TestContext, bin: string, pkg: string, args: string[]): string {
  const result = spawnSync(bin, args, { encoding: 'utf8' });
  ctx.skip(result.error !== undefined && !process.env.CI, `${bin} not found: apt-get install ${pkg}`);
  const output = `${result.error?.message ?? ''}${result.stdout}${result.stderr}`;
  expect(result.status, output).toBe(0);
  return output;
}

describe('the local stack configs rendered from monitoring/', () => {
  it('passes promtool check config, loading every rule file of monitoring/rules', (ctx) => {
    const ruleFiles = readdirSync(path.join(MONITORING_DIR, 'rules')).filter((f) => f.endsWith('.yml'));
    expect(ruleFiles.length).toBeGreaterThan(0);
    const output = check(ctx, PROMTOOL, 'prometheus', ['check', 'config', files.prometheus]);
    expect(output).toContain(`${ruleFiles.length} rule files found`);
    for (const file of ruleFiles) expect(output).toContain(path.join(MONITORING_DIR, 'rules', file));
  });

  it('passes amtool check-config', (ctx) => {
    check(ctx, AMTOOL, 'prometheus-alertmanager', ['check-config', files.alertmanager]);
  });
});
