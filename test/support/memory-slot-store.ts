// A SlotStore in memory (packages/middy-pushgateway/src/slots.ts), on a clock the test controls, with the failures a test needs
// to cause: a lease taken over or lapsed, and commands refused, dropped or applied with their answer lost.
// Its maps are its data: a test may read or change them, and they outlive `restart`.
import { DEFAULT_JOB } from '../../packages/middy-pushgateway/src/gateway.ts';
import { randomUUID } from 'node:crypto';
import { seriesKey, type Family } from '../../packages/middy-pushgateway/src/exposition.ts';
import { isOverflow, NotSentError, type IdleGroup, type Lease, type RetiredSeries, type SlotStore, type StoredSeries } from '../../packages/middy-pushgateway/src/slots.ts';
import { addExact } from '../../packages/middy-pushgateway/src/exact-sum.ts';

/**
 * How Redis fails a command: `refuse`, never sent (NotSentError, as ioredis without a connection); `drop`, sent
 * but lost on the way (a plain Error, not applied); `loseReply`, applied with its answer lost (a plain Error).
 */
export type RedisFault = 'refuse' | 'drop' | 'loseReply';

// As in packages/middy-pushgateway/src/slots.ts: a holder stops trusting its lease a little before Redis lets it go.
const CLOCK_MARGIN_MS = 1000;
const JANITOR_LEASE_MS = 10_000;

export class MemorySlotStore implements SlotStore {
  readonly job = DEFAULT_JOB;
  /** `<fn>:<id>` -> holder; a lease whose `expiresAt` has passed is free. */
  readonly leases = new Map<string, { token: string; expiresAt: number }>();
  /** `<fn>:<id>` -> the group's stored series. */
  readonly state = new Map<string, StoredSeries[]>();
  /** `<fn>:<id>` -> when its state was last stored (the Redis store reads it off the state's TTL). */
  readonly storedAt = new Map<string, number>();
  /** `<fn>:<id>` -> the group's last gauge readings and when they were stored. */
  readonly gauges = new Map<string, { atMs: number; values: StoredSeries[] }>();
  /** function -> series key -> its retired total (partials of the exact sum). */
  readonly retired = new Map<string, Map<string, RetiredSeries>>();
  /** token -> the highest store number applied for it. */
  readonly written = new Map<string, number>();
  readonly savedFamilies = new Map<string, Family>();
  /** Commands a fault met, so a test can tell a push that went through cleanly. */
  faults = 0;
  /** The next command is applied, then Redis goes down before it answers (its reply is lost). */
  loseNextReply = false;
  private fault: RedisFault | undefined;
  /** Commands still answered normally before `fault` starts. */
  private faultIn = 0;
  private restarting = false;
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Every command from the `after`-th next one on meets `fault` (undefined: Redis answers, restarted too). */
  setFault(fault: RedisFault | undefined, after = 0): void {
    this.fault = fault;
    this.faultIn = after;
    this.restarting = false;
  }

  get down(): boolean {
    return this.fault === 'refuse' && this.faultIn === 0;
  }
  set down(down: boolean) {
    this.setFault(down ? 'refuse' : undefined);
  }

  /** Redis restarts with its data (persisted): the next command, under way when it went, is lost. */
  restart(): void {
    this.restarting = true;
  }

  /** Runs one command as Redis would, atomically, unless a fault stops it or loses its answer. */
  private async command<T>(apply: () => T): Promise<T> {
    await Promise.resolve(); // an answer is never synchronous: concurrent callers interleave between commands
    const fault = this.restarting ? 'drop' : this.faultIn > 0 ? (this.faultIn--, undefined) : this.fault;
    this.restarting = false;
    if (fault) this.faults++;
    if (fault === 'refuse') throw new NotSentError('redis refused the command');
    if (fault === 'drop') throw new Error('connection lost before the command reached redis');
    const result = apply();
    if (fault === 'loseReply') throw new Error('connection lost before the reply');
    if (this.loseNextReply) {
      this.loseNextReply = false;
      this.setFault('refuse');
      this.faults++;
      throw new Error('connection closed before the reply');
    }
    return result;
  }

  private holder(key: string): string | undefined {
    const lease = this.leases.get(key);
    return lease && lease.expiresAt > this.now() ? lease.token : undefined;
  }

  /** A store writes the series given; the others keep their values (packages/middy-pushgateway/src/slots.ts). */
  private merge(key: string, values: StoredSeries[]): void {
    const merged = new Map((this.state.get(key) ?? []).map((v) => [seriesKey(v[1], v[2]), v]));
    for (const v of structuredClone(values)) merged.set(seriesKey(v[1], v[2]), v);
    this.state.set(key, [...merged.values()]);
    this.storedAt.set(key, this.now());
  }

  /** Someone else takes the slot, as after our lease expired while we were frozen. */
  steal(fn: string, slot: number): void {
    this.leases.set(`${fn}:${slot}`, { token: 'someone-else', expiresAt: Infinity });
  }

  /** The container is gone and its lease ran out. */
  expire(fn: string, slot: number): void {
    this.leases.delete(`${fn}:${slot}`);
  }

  async claim(fn: string, max: number, ttlMs: number, token: string): Promise<Lease | undefined> {
    const validUntil = this.now() + ttlMs - CLOCK_MARGIN_MS;
    const slot = await this.command(() => {
      const keys = Array.from({ length: max }, (_, slot) => `${fn}:${slot}`);
      const found = keys.findIndex((key) => this.holder(key) === token);
      const slot = found >= 0 ? found : keys.findIndex((key) => this.holder(key) === undefined);
      if (slot >= 0) this.leases.set(keys[slot]!, { token, expiresAt: this.now() + ttlMs });
      return slot;
    });
    return slot < 0 ? undefined : { id: String(slot), token, validUntil };
  }

  load(fn: string, id: string): Promise<StoredSeries[] | undefined> {
    return this.command(() => structuredClone(this.state.get(`${fn}:${id}`)));
  }

  async renewAndStore(fn: string, lease: Lease, ttlMs: number, values: StoredSeries[], write: number, retake: boolean): Promise<boolean> {
    const key = `${fn}:${lease.id}`;
    const validUntil = this.now() + ttlMs - CLOCK_MARGIN_MS;
    const renewed = await this.command(() => {
      const holder = this.holder(key);
      if (holder !== lease.token && (holder !== undefined || !retake)) return false;
      this.leases.set(key, { token: lease.token, expiresAt: this.now() + ttlMs });
      this.merge(key, values);
      this.written.set(lease.token, Math.max(write, this.written.get(lease.token) ?? 0));
      return true;
    });
    if (renewed) lease.validUntil = validUntil;
    return renewed;
  }

  lastWrite(lease: Lease): Promise<number> {
    return this.command(() => this.written.get(lease.token) ?? 0);
  }

  private lastTimestamp = 0;
  nextTimestamp(now: number): Promise<number> {
    return this.command(() => (this.lastTimestamp = Math.max(Math.floor(now), this.lastTimestamp + 1)));
  }

  release(fn: string, lease: Lease): Promise<void> {
    return this.releaseKey(`${fn}:${lease.id}`, lease.token);
  }

  private releaseKey(key: string, token: string): Promise<void> {
    return this.command(() => {
      if (this.holder(key) === token) this.leases.delete(key);
    });
  }

  saveFamilies(families: Iterable<Family>): Promise<void> {
    return this.command(() => {
      for (const family of families) this.savedFamilies.set(family.name, { ...family });
    });
  }

  families(): Promise<Map<string, Family>> {
    return this.command(() => structuredClone(this.savedFamilies));
  }

  storedGroups(): Promise<{ fn: string; id: string }[]> {
    return this.command(() => [...this.state.keys()].map(splitKey));
  }

  storeGauges(fn: string, id: string, values: StoredSeries[], atMs: number): Promise<void> {
    return this.command(() => void this.gauges.set(`${fn}:${id}`, { atMs, values: structuredClone(values) }));
  }

  storedGauges(): Promise<{ fn: string; id: string; atMs: number; values: StoredSeries[] }[]> {
    return this.command(() => [...this.gauges].map(([key, g]) => ({ ...splitKey(key), ...structuredClone(g) })));
  }

  retiredTotals(): Promise<{ fn: string; values: RetiredSeries[] }[]> {
    return this.command(() => [...this.retired].map(([fn, totals]) => ({ fn, values: structuredClone([...totals.values()]) })));
  }

  /** Into the function's retired total (slots.ts): the group's values added up exactly, its state gone. */
  private retire(fn: string, id: string): void {
    const key = `${fn}:${id}`;
    const totals = this.retired.get(fn) ?? new Map<string, RetiredSeries>();
    this.retired.set(fn, totals);
    for (const [family, metricName, labels, value] of this.state.get(key) ?? []) {
      const k = seriesKey(metricName, labels);
      const total = totals.get(k) ?? [family, metricName, structuredClone(labels), []];
      addExact(total[3], value);
      totals.set(k, total);
    }
    this.state.delete(key);
    this.gauges.delete(key);
    if (isOverflow(id)) this.leases.set(key, { token: 'retired', expiresAt: Infinity });
  }

  /** Each step is a command of its own, as in Redis: the janitor's lease, the group's work, the release. */
  async withIdleGroup<T>(fn: string, id: string, work: (values: StoredSeries[] | undefined, group: IdleGroup) => Promise<T>): Promise<T | undefined> {
    const key = `${fn}:${id}`;
    const token = randomUUID();
    const taken = await this.command(() => {
      if (this.holder(key) !== undefined) return false;
      this.leases.set(key, { token, expiresAt: this.now() + JANITOR_LEASE_MS });
      return true;
    });
    if (!taken) return undefined;
    try {
      return await work(await this.load(fn, id), {
        save: (values) => this.command(() => this.merge(key, values)),
        forget: () => this.command(() => void this.state.delete(key)),
        idleMs: () => this.command(() => this.now() - (this.storedAt.get(key) ?? -Infinity)),
        retire: () => this.command(() => this.retire(fn, id)),
      });
    } finally {
      await this.releaseKey(key, token).catch(() => {});
    }
  }

  async exclusive<T>(name: string, ttlMs: number, work: () => Promise<T>): Promise<T | undefined> {
    const key = `lock:${name}`;
    const token = randomUUID();
    // As the Redis store does: a lost answer may hide a lock we took.
    const taken = await this.command(() => {
      if (this.holder(key) !== undefined) return false;
      this.leases.set(key, { token, expiresAt: this.now() + ttlMs });
      return true;
    }).catch(() => this.command(() => this.holder(key) === token));
    if (!taken) return undefined;
    try {
      return await work();
    } finally {
      await this.releaseKey(key, token).catch(() => {});
    }
  }

}

function splitKey(key: string): { fn: string; id: string } {
  const at = key.lastIndexOf(':');
  return { fn: key.slice(0, at), id: key.slice(at + 1) };
}
