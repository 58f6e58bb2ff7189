// The process_* / nodejs_* subset of prom-client's default metrics, read at collect time (push time), without
// the default set's event-loop monitors and GC hooks that a short-lived function never needs.
import { isMainThread } from 'node:worker_threads';
import { Counter, Gauge, type Registry } from 'prom-client';

// A function runs in a process of its own on Lambda, but in a worker thread under serverless-offline, where the
// process's usage is that of every function at once.
const cpuUsage = isMainThread ? () => process.cpuUsage() : () => process.threadCpuUsage();
const startTime = Math.round(Date.now() / 1000 - process.uptime());

export function registerProcessMetrics(registry: Registry): void {
  let cpuSecondsSeen = 0;
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent by this container, in seconds.',
    registers: [registry],
    collect() {
      const usage = cpuUsage();
      const total = (usage.user + usage.system) / 1e6;
      this.inc(Math.max(0, total - cpuSecondsSeen));
      cpuSecondsSeen = total;
    },
  });
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size of this container, in bytes.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'nodejs_heap_size_used_bytes',
    help: 'V8 heap in use, in bytes.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of this container since the Unix epoch, in seconds.',
    registers: [registry],
    collect() {
      this.set(startTime);
    },
  });
}
