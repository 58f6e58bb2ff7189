// Drives simulated containers the way a fleet of function instances sees traffic: several lanes at once,
// each served by one container at a time, containers replaced at random.
export interface Invocable {
  invoke(n: number, cents: number): Promise<void>;
  abandon(): void;
}

export interface WorkloadResult {
  invocations: number;
  orders: number;
  revenue: number;
  containers: number;
  latenciesMs: number[];
}

export const centsFor = (n: number) => 100 + (n % 7) * 25;

export async function runWorkload(
  make: () => Invocable,
  options: { lanes: number; invocations: number; replaceProbability: number; pauseMs?: () => number },
): Promise<WorkloadResult> {
  let next = 0;
  let containers = 0;
  const result: WorkloadResult = { invocations: 0, orders: 0, revenue: 0, containers: 0, latenciesMs: [] };
  const spawn = () => {
    containers++;
    return make();
  };
  await Promise.all(
    Array.from({ length: options.lanes }, async () => {
      let container = spawn();
      while (next < options.invocations) {
        const n = next++;
        const started = performance.now();
        await container.invoke(n, centsFor(n));
        result.latenciesMs.push(performance.now() - started);
        result.invocations++;
        if (n % 3 === 0) {
          result.orders++;
          result.revenue += centsFor(n);
        }
        if (Math.random() < options.replaceProbability) {
          container.abandon();
          container = spawn();
        }
        const pause = options.pauseMs?.() ?? 0;
        if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      }
      container.abandon();
    }),
  );
  result.containers = containers;
  return result;
}
