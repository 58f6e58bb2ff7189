import { describe, expect, it } from 'vitest';
import { hashPassword, verifyAgainstNothing, verifyPassword } from '../../../../lib/auth/passwords.ts';

describe('passwords', () => {
  it('verifies a password against its own hash', async () => {
    // Prepare
    const stored = await hashPassword('correct horse battery staple');

    // Act
    const ok = await verifyPassword('correct horse battery staple', stored);

    // Assess
    expect(ok).toBe(true);
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  });

  it('rejects a wrong password', async () => {
    // Prepare
    const stored = await hashPassword('correct horse battery staple');

    // Act
    const ok = await verifyPassword('Correct horse battery staple', stored);

    // Assess
    expect(ok).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['not scrypt', 'bcrypt$2b$10$abcdefghijklmnopqrstuv'],
    ['missing hash', 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA=='],
    ['N not a power of two', `scrypt$1000$8$1$${'A'.repeat(24)}$${'A'.repeat(88)}`],
    ['N beyond the allowed cost', `scrypt$${2 ** 24}$8$1$${'A'.repeat(24)}$${'A'.repeat(88)}`],
    ['salt too short', `scrypt$16384$8$1$AAAA$${'A'.repeat(88)}`],
    ['not base64', `scrypt$16384$8$1$${'!'.repeat(24)}$${'A'.repeat(88)}`],
  ])('returns false instead of throwing for a malformed stored hash (%s)', async (_label, stored) => {
    // Act
    const ok = await verifyPassword('anything', stored);

    // Assess
    expect(ok).toBe(false);
  });

  it('salts each hash, so one password hashed twice gives different strings that both verify', async () => {
    // Act
    const first = await hashPassword('same password');
    const second = await hashPassword('same password');

    // Assess
    expect(first).not.toBe(second);
    expect(await verifyPassword('same password', first)).toBe(true);
    expect(await verifyPassword('same password', second)).toBe(true);
  });

  it('answers false for an unknown user after doing the work of a real verify', async () => {
    // Act
    const ok = await verifyAgainstNothing('whatever');

    // Assess
    expect(ok).toBe(false);
  });
});
