// `npm run load -- --perf <dir>`: a Linux `perf record -g` of serverless-offline's process (every container's
// worker thread) during each measured run, for scripts/load/perf-summary.ts. Needs perf and the right to
// profile another process (root, or kernel.perf_event_paranoid ≤ 1).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export const PERF_FREQUENCY = 499;

/** Node flags that name JavaScript frames for perf, the interpreted ones too; both modes run with them alike. */
export const PERF_NODE_OPTIONS = '--perf-basic-prof --interpreted-frames-native-stack';

export async function recordPerf(dir: string, phase: string, pid: number, seconds: number): Promise<void> {
  await promisify(execFile)('perf', ['record', '-F', String(PERF_FREQUENCY), '-g', '-p', String(pid), '-o', path.join(dir, `${phase}.data`), '--', 'sleep', String(seconds)]);
}
