// Where each of a container's counts went, as plain values and named transitions, so that the one invariant
// of the push can be read off and tested: every increment is placed in at most one group, and a group shows
// on the gateway only what its record holds. Pure bookkeeping: no Redis, no gateway, no clock.
//
// Keys are series keys (exposition.ts); amounts are cumulative, per series.
export type Amounts = Map<string, number>;

/** A store whose answer was lost: applied or not, only Redis knows. `carried`: what it held beyond `share`. */
export interface UnsureStore {
  write: number;
  carried: Amounts;
}

/** One group this container writes: a slot, which it continues from `base`, or an overflow or solo group. */
export interface Account {
  /** The group's values when we took it (a slot's stored state); empty for a group of our own. */
  base: Amounts;
  /** Our increments the group holds for sure: acknowledged by its store (a slot), or given to it (our own group). */
  share: Amounts;
  /** Stores whose answer was lost, oldest first; a later store of the same group supersedes them all. */
  unsure: UnsureStore[];
  /** Series whose value in the group's store may be behind: what its next store writes. */
  dirty: Set<string>;
}

export interface Ledger {
  /** Our own cumulative values, as the registry counts them. */
  counted: Amounts;
  /** Counted and placed in some account: every share, plus each account's newest unsure store. */
  placed: Amounts;
  /** Series that may have something pending: an invocation moves a few of a few hundred. */
  moved: Set<string>;
}

const get = (m: Amounts, key: string) => m.get(key) ?? 0;
const add = (m: Amounts, key: string, n: number) => {
  if (n !== 0) m.set(key, get(m, key) + n);
};

export const newLedger = (): Ledger => ({ counted: new Map(), placed: new Map(), moved: new Set() });

export function newAccount(base: Amounts = new Map()): Account {
  return { base, share: new Map(), unsure: [], dirty: new Set(base.keys()) };
}

/** The registry moved a series to `value`: the increment is pending until an account takes it. */
export function counted(ledger: Ledger, key: string, value: number): void {
  ledger.counted.set(key, value);
  ledger.moved.add(key);
}

/** What is counted and placed nowhere yet. */
export const pending = (ledger: Ledger, key: string): number => get(ledger.counted, key) - get(ledger.placed, key);

export function pendingKeys(ledger: Ledger): string[] {
  const keys: string[] = [];
  for (const key of ledger.moved) {
    if (pending(ledger, key) > 0) keys.push(key);
    else ledger.moved.delete(key);
  }
  return keys;
}

/** The group's value of a series as far as we know for sure: what the gateway may be shown. */
export const held = (account: Account, key: string): number => get(account.base, key) + get(account.share, key);

/** A store of this account, prepared: the absolute values it writes and the pending increments it carries. */
export interface StoreAttempt {
  write: number;
  values: Amounts;
  /** Per series: the newest unsure store's carry plus what was pending. */
  carried: Amounts;
  /** The part of `carried` that was pending before this store. */
  fresh: Amounts;
}

/** Prepares a store that writes every dirty series and carries everything pending into the account. */
export function prepareStore(ledger: Ledger, account: Account, write: number): StoreAttempt {
  const newest = account.unsure.at(-1)?.carried;
  const carried: Amounts = new Map();
  const fresh: Amounts = new Map();
  for (const key of pendingKeys(ledger)) {
    account.dirty.add(key);
    fresh.set(key, pending(ledger, key));
  }
  const values: Amounts = new Map();
  for (const key of account.dirty) {
    const carry = (newest ? get(newest, key) : 0) + get(fresh, key);
    if (carry !== 0) carried.set(key, carry);
    values.set(key, held(account, key) + carry);
  }
  return { write, values, carried, fresh };
}

/** Redis acknowledged the store: the account holds what it carried, and earlier unsure stores are superseded. */
export function stored(ledger: Ledger, account: Account, attempt: StoreAttempt): void {
  for (const [key, n] of attempt.carried) add(account.share, key, n);
  for (const [key, n] of attempt.fresh) add(ledger.placed, key, n);
  account.unsure = [];
  account.dirty.clear();
}

/**
 * The store's answer was lost. What it carried counts as placed (carrying it elsewhere as well could count it
 * twice) until `settled` learns whether it was applied.
 */
export function storeUnsure(ledger: Ledger, account: Account, attempt: StoreAttempt): void {
  for (const [key, n] of attempt.fresh) add(ledger.placed, key, n);
  account.unsure.push({ write: attempt.write, carried: attempt.carried });
}

/**
 * Redis says which store of the account it applied last (`appliedWrite`): what that one carried stays in the
 * account, what only later unsure stores carried is pending again. Used once we are off the account (on it,
 * the next store supersedes them).
 */
export function settled(ledger: Ledger, account: Account, appliedWrite: number): void {
  const newest = account.unsure.at(-1);
  if (!newest) return;
  const kept = account.unsure.filter((u) => u.write <= appliedWrite).at(-1)?.carried ?? new Map<string, number>();
  for (const [key, n] of newest.carried) {
    add(ledger.placed, key, get(kept, key) - n);
    ledger.moved.add(key);
  }
  for (const [key, n] of kept) add(account.share, key, n);
  account.unsure = [];
}

/** Gives everything pending to a group of our own, whose gateway group is its record: it holds it at once. */
export function assigned(ledger: Ledger, account: Account): string[] {
  const keys = pendingKeys(ledger);
  for (const key of keys) {
    const n = pending(ledger, key);
    add(account.share, key, n);
    add(ledger.placed, key, n);
    account.dirty.add(key);
  }
  return keys;
}
