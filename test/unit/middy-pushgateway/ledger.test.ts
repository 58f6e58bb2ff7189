import { describe, expect, it } from 'vitest';
import * as ledgers from '../../../packages/middy-pushgateway/src/ledger.ts';

const A = 'a_total{}';
const B = 'b_total{}';

/** A ledger that counted the values given. */
function countedLedger(values: Record<string, number>) {
  const ledger = ledgers.newLedger();
  for (const [key, value] of Object.entries(values)) ledgers.counted(ledger, key, value);
  return ledger;
}

describe('the push ledger', () => {
  it('keeps what the registry counted pending until an account takes it', () => {
    // Prepare
    const ledger = ledgers.newLedger();
    // Act
    ledgers.counted(ledger, A, 3);
    ledgers.counted(ledger, A, 5);
    ledgers.counted(ledger, B, 0);
    // Assess
    expect(ledgers.pending(ledger, A)).toBe(5);
    expect(ledgers.pendingKeys(ledger)).toEqual([A]);
  });

  it('holds a slot at its base until a store is acknowledged', () => {
    // Prepare
    const account = ledgers.newAccount(new Map([[A, 7]]));
    // Act
    const held = ledgers.held(account, A);
    // Assess
    expect(held).toBe(7);
    expect(ledgers.held(account, B)).toBe(0);
    expect([...account.dirty]).toEqual([A]); // a slot taken over is written whole by its first store
  });

  it('prepares a store writing base plus share plus what is pending, for every dirty series', () => {
    // Prepare
    const ledger = countedLedger({ [A]: 2 });
    const account = ledgers.newAccount(new Map([[B, 10]]));
    // Act
    const attempt = ledgers.prepareStore(ledger, account, 1);
    // Assess
    expect(attempt.values).toEqual(new Map([[B, 10], [A, 2]]));
    expect(attempt.carried).toEqual(new Map([[A, 2]]));
    expect(attempt.fresh).toEqual(new Map([[A, 2]]));
    expect(ledgers.held(account, A)).toBe(0); // nothing is held before Redis acknowledges it
  });

  it('gives an acknowledged store to the account, placing what it carried', () => {
    // Prepare
    const ledger = countedLedger({ [A]: 2 });
    const account = ledgers.newAccount(new Map([[A, 10]]));
    const attempt = ledgers.prepareStore(ledger, account, 1);
    // Act
    ledgers.stored(ledger, account, attempt);
    // Assess
    expect(ledgers.held(account, A)).toBe(12);
    expect(ledgers.pending(ledger, A)).toBe(0);
    expect(account.dirty.size).toBe(0);
  });

  it('places what an unsure store carried without letting the account hold it', () => {
    // Prepare
    const ledger = countedLedger({ [A]: 2 });
    const account = ledgers.newAccount();
    const attempt = ledgers.prepareStore(ledger, account, 1);
    // Act
    ledgers.storeUnsure(ledger, account, attempt);
    // Assess
    expect(ledgers.pending(ledger, A)).toBe(0); // carried elsewhere as well, it could be counted twice
    expect(ledgers.held(account, A)).toBe(0); // nor may the gateway be shown it
    expect(account.unsure).toEqual([{ write: 1, carried: new Map([[A, 2]]) }]);
  });

  it('carries an unsure store again in the next store of the same account, which supersedes it', () => {
    // Prepare
    const ledger = countedLedger({ [A]: 2 });
    const account = ledgers.newAccount();
    ledgers.storeUnsure(ledger, account, ledgers.prepareStore(ledger, account, 1));
    ledgers.counted(ledger, A, 5);
    // Act
    const next = ledgers.prepareStore(ledger, account, 2);
    ledgers.stored(ledger, account, next);
    // Assess
    expect(next.values.get(A)).toBe(5);
    expect(next.fresh.get(A)).toBe(3);
    expect(ledgers.held(account, A)).toBe(5);
    expect(ledgers.pending(ledger, A)).toBe(0);
    expect(account.unsure).toEqual([]);
  });

  it('settles unsure stores Redis applied: the account keeps what the last applied one carried', () => {
    // Prepare: two unsure stores, the second carrying more
    const ledger = countedLedger({ [A]: 2 });
    const account = ledgers.newAccount();
    ledgers.storeUnsure(ledger, account, ledgers.prepareStore(ledger, account, 1));
    ledgers.counted(ledger, A, 5);
    ledgers.storeUnsure(ledger, account, ledgers.prepareStore(ledger, account, 2));
    // Act: Redis applied the first only
    ledgers.settled(ledger, account, 1);
    // Assess
    expect(ledgers.held(account, A)).toBe(2);
    expect(ledgers.pending(ledger, A)).toBe(3);
    expect(account.unsure).toEqual([]);
  });

  it('settles unsure stores Redis never applied: what they carried is pending again', () => {
    // Prepare
    const ledger = countedLedger({ [A]: 4, [B]: 1 });
    const account = ledgers.newAccount();
    ledgers.storeUnsure(ledger, account, ledgers.prepareStore(ledger, account, 3));
    // Act
    ledgers.settled(ledger, account, 2);
    // Assess
    expect(ledgers.held(account, A)).toBe(0);
    expect(ledgers.pending(ledger, A)).toBe(4);
    expect(ledgers.pending(ledger, B)).toBe(1);
  });

  it('settles an account without unsure stores as a no-op', () => {
    // Prepare
    const ledger = countedLedger({ [A]: 4 });
    const account = ledgers.newAccount();
    ledgers.stored(ledger, account, ledgers.prepareStore(ledger, account, 1));
    // Act
    ledgers.settled(ledger, account, 0);
    // Assess
    expect(ledgers.held(account, A)).toBe(4);
    expect(ledgers.pending(ledger, A)).toBe(0);
  });

  it('assigns everything pending to a group of our own, which holds it at once', () => {
    // Prepare
    const ledger = countedLedger({ [A]: 4, [B]: 0 });
    const account = ledgers.newAccount();
    // Act
    const keys = ledgers.assigned(ledger, account);
    // Assess
    expect(keys).toEqual([A]);
    expect(ledgers.held(account, A)).toBe(4);
    expect(ledgers.pending(ledger, A)).toBe(0);
    expect([...account.dirty]).toEqual([A]); // still to be stored in Redis, for the janitor
  });

  it('never places more than was counted, whatever becomes of the stores', () => {
    // Prepare: an unsure store, then the account is left and another takes the rest
    const ledger = countedLedger({ [A]: 2 });
    const slot = ledgers.newAccount();
    ledgers.storeUnsure(ledger, slot, ledgers.prepareStore(ledger, slot, 1));
    ledgers.counted(ledger, A, 6);
    const own = ledgers.newAccount();
    ledgers.assigned(ledger, own);
    // Act: Redis did apply the unsure store
    ledgers.settled(ledger, slot, 1);
    // Assess
    expect(ledgers.held(slot, A) + ledgers.held(own, A)).toBe(6);
    expect(ledgers.pendingKeys(ledger)).toEqual([]);
  });
});
