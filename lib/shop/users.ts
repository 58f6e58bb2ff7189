import { db } from '../db/query.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { hashPassword, verifyPassword, verifyAgainstNothing } from '../auth/passwords.ts';
import { issueToken, type Principal, type Role } from '../auth/tokens.ts';
import { getJwtSecret } from '../auth/secret.ts';
import { business } from '../metrics/business.ts';
import { UnauthorizedError } from '../auth/errors.ts';
import { EmailTakenError, InvalidCredentialsError, TooManyAttemptsError } from './errors.ts';
import { loginThrottle } from './login-throttle.ts';
import type { Credentials, Registration } from './schemas.ts';

export interface User {
  id: number;
  email: string;
  name: string;
  role: Role;
}
export interface Session {
  user: User;
  token: string;
}

type UserRow = { id: number; email: string; name: string; role: Role; password_hash: string };
const toUser = (row: UserRow): User => ({ id: row.id, email: row.email, name: row.name, role: row.role });
const normaliseEmail = (email: string) => email.trim().toLowerCase();
const sessionFor = async (user: User): Promise<Session> => ({ user, token: await issueToken({ userId: user.id, role: user.role }) });

export async function register(input: Registration): Promise<Session> {
  const email = normaliseEmail(input.email);
  // The signing key before the account: a secret-store outage must not leave an account behind its 503, or
  // the client's retry would be told the email is taken.
  await getJwtSecret();
  try {
    const [row] = await db.query<UserRow>(
      { operation: 'insert', table: 'users' },
      'INSERT INTO users (email, password_hash, name, role) VALUES ($1, $2, $3, $4) RETURNING id, email, name, role',
      [email, await hashPassword(input.password), input.name, 'customer'],
    );
    business.userRegistered();
    return await sessionFor(toUser(row!));
  } catch (err) {
    if (isUniqueViolation(err)) throw new EmailTakenError('an account with this email already exists');
    throw err;
  }
}

export async function login(input: Credentials): Promise<Session> {
  const email = normaliseEmail(input.email);
  const throttle = loginThrottle();
  // Before the database: a locked account answers the same whether it exists or not, and costs no hashing.
  const verdict = await throttle.attempt(email);
  if (!verdict.allowed) {
    business.loginAttempted('locked');
    throw new TooManyAttemptsError('too many failed logins for this account; try again later', { retryAfterSeconds: verdict.retryAfterSeconds });
  }
  let user: User | undefined;
  try {
    user = await checkCredentials(email, input.password);
  } catch (err) {
    // An outage (or a bug) said nothing about the password: the client's retry must not find the account locked.
    await throttle.inconclusive(email);
    throw err;
  }
  business.loginAttempted(user ? 'success' : 'failure');
  if (!user) throw new InvalidCredentialsError('email or password is incorrect');
  await throttle.succeeded(email);
  return sessionFor(user);
}

/** The account, if the password is its own. */
async function checkCredentials(email: string, password: string): Promise<User | undefined> {
  const [row] = await db.query<UserRow>(
    { operation: 'select', table: 'users' },
    'SELECT id, email, name, role, password_hash FROM users WHERE lower(email) = $1',
    [email],
  );
  // An unknown email costs the same hashing work as a wrong password: no account enumeration by timing.
  const valid = row ? await verifyPassword(password, row.password_hash) : await verifyAgainstNothing(password);
  return row && valid ? toUser(row) : undefined;
}

export async function me(principal: Principal): Promise<User> {
  const [row] = await db.query<UserRow>(
    { operation: 'select', table: 'users' },
    'SELECT id, email, name, role FROM users WHERE id = $1',
    [principal.userId],
  );
  if (!row) throw new UnauthorizedError('the account of this token no longer exists');
  return toUser(row);
}
