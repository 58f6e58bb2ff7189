import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const processMetrics = fileURLToPath(new URL('../../../packages/middy-pushgateway/src/process-metrics.ts', import.meta.url));

// A container in a worker thread (serverless-offline) reads its CPU seconds twice, idle in between, while the
// main thread (another container, as far as the process is concerned) burns CPU.
const containerCode = `
const { parentPort } = require('node:worker_threads');
(async () => {
  const { Registry } = await import('prom-client');
  const { registerProcessMetrics } = await import(${JSON.stringify(processMetrics)});
  const registry = new Registry();
  registerProcessMetrics(registry);
  const cpuSeconds = async () => (await registry.getSingleMetric('process_cpu_seconds_total').get()).values[0].value;
  const before = await cpuSeconds();
  parentPort.postMessage('burn now');
  parentPort.once('message', async () => parentPort.postMessage((await cpuSeconds()) - before));
})();
`;

describe('process_cpu_seconds_total', () => {
  it("counts a worker-thread container's own CPU, not the whole process's", async () => {
    // Prepare
    const container = new Worker(containerCode, { eval: true });
    const said = () => new Promise<unknown>((resolve, reject) => {
      container.once('message', resolve);
      container.once('error', reject);
    });
    await said();
    // Act
    const burnUntil = performance.now() + 400;
    while (performance.now() < burnUntil); // the process's CPU grows by 0.4 s, the container's hardly at all
    const grown = said();
    container.postMessage('read again');
    const delta = (await grown) as number;
    await container.terminate();
    // Assess
    expect(delta).toBeGreaterThanOrEqual(0);
    expect(delta).toBeLessThan(0.1);
  });
});
