// A SlotStore in memory, with the failures a test needs to cause: a lease taken over, Redis down.
import { randomUUID } from 'node:crypto';
import { seriesKey } from '../../lib/metrics/exposition.ts';
import { NotSentError, type Lease, type SlotStore, type StoredSeries } from '../../lib/metrics/slots.ts';

export class MemorySlotStore implements SlotStore {
  readonly leases = new Map<string, string>();
  readonly state = new Map<string, StoredSeries[]>();
  readonly written = new Map<string, number>();
  down = false;
  /** The next store is applied, then Redis goes down before it answers (its reply is lost). */
  loseNextReply = false;

  /** A store writes the series given; the others keep their values (lib/metrics/slots.ts). */
  private merge(key: string, values: StoredSeries[]): void {
    const merged = new Map((this.state.get(key) ?? []).map((v) => [seriesKey(v[1], v[2]), v]));
    for (const v of structuredClone(values)) merged.set(seriesKey(v[1], v[2]), v);
    this.state.set(key, [...merged.values()]);
  }

  private check(): void {
    if (this.down) throw new NotSentError('redis is down');
  }

  /** Someone else takes the slot, as after our lease expired while we were frozen. */
  steal(fn: string, slot: number): void {
    this.leases.set(`${fn}:${slot}`, 'someone-else');
  }

  async claim(fn: string, max: number, ttlMs: number): Promise<Lease | undefined> {
    this.check();
    for (let slot = 0; slot < max; slot++) {
      if (!this.leases.has(`${fn}:${slot}`)) {
        const token = randomUUID();
        this.leases.set(`${fn}:${slot}`, token);
        return { slot, token, validUntil: Date.now() + ttlMs - 1000 };
      }
    }
    return undefined;
  }
  async load(fn: string, id: string) {
    this.check();
    return this.state.get(`${fn}:${id}`);
  }
  async storeOverflow(fn: string, id: string, values: StoredSeries[]) {
    this.check();
    this.merge(`${fn}:${id}`, values);
  }
  async renewAndStore(fn: string, lease: Lease, ttlMs: number, values: StoredSeries[], write: number) {
    this.check();
    if (this.leases.get(`${fn}:${lease.slot}`) !== lease.token) return false;
    this.merge(`${fn}:${lease.slot}`, values);
    this.written.set(lease.token, write);
    lease.validUntil = Date.now() + ttlMs - 1000;
    if (this.loseNextReply) {
      this.loseNextReply = false;
      this.down = true;
      throw new Error('connection closed before the reply');
    }
    return true;
  }
  async lastWrite(lease: Lease) {
    this.check();
    return this.written.get(lease.token) ?? 0;
  }
  async storedGroups() {
    return [...this.state.keys()].map((key) => {
      const at = key.lastIndexOf(':');
      return { fn: key.slice(0, at), id: key.slice(at + 1) };
    });
  }
  async withIdleGroup<T>(fn: string, id: string, work: (values: StoredSeries[] | undefined) => Promise<T>) {
    if (this.leases.has(`${fn}:${id}`)) return undefined;
    return work(this.state.get(`${fn}:${id}`));
  }
  /** The container is gone and its lease ran out. */
  release(fn: string, slot: number): void {
    this.leases.delete(`${fn}:${slot}`);
  }
  close(): void {}
}
