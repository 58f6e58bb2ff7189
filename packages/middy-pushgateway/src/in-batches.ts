/** Groups handled at once (janitor, flusher): their round trips to Redis or a gateway overlap, and neither is flooded. */
export const GROUPS_AT_ONCE = 8;

/** Runs `work` over `items`, at most `limit` at once: their round trips overlap without flooding a server. */
export async function inBatches<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
