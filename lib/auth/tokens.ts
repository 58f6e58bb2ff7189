import { jwtVerify, SignJWT } from 'jose';
import { config } from '../config.ts';
import { UnauthorizedError } from './errors.ts';
import { getJwtSecret } from './secret.ts';

export type Role = 'customer' | 'admin';

export interface Principal {
  userId: number;
  role: Role;
}

const ISSUER = 'serverless-shop';
const AUDIENCE = 'serverless-shop-api';
const ROLES: readonly Role[] = ['customer', 'admin'];
const MAX_TOKEN_LENGTH = 4096;
// Compact JWS: three base64url segments. The signature may be empty so that an unsigned token reaches
// verifyToken and is rejected there, by one rule, rather than by a shape check that might drift.
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

export async function issueToken(principal: Principal): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: principal.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(principal.userId))
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + config.auth.tokenTtlSeconds)
    .sign(await getJwtSecret());
}

export async function verifyToken(token: string): Promise<Principal> {
  // Outside the try on purpose: a Secrets Manager outage is ours, and must not read as "your token is bad".
  const secret = await getJwtSecret();
  try {
    const { payload } = await jwtVerify(token, secret, {
      // Pinned so that "alg: none" and asymmetric algorithms are refused before any key is consulted.
      algorithms: ['HS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['exp', 'sub'],
    });
    const { sub, role } = payload;
    if (typeof sub !== 'string' || !/^[1-9]\d{0,15}$/.test(sub) || !Number.isSafeInteger(Number(sub))) {
      throw new Error('sub is not a user id');
    }
    if (!ROLES.includes(role as Role)) throw new Error('role is not allowed');
    return { userId: Number(sub), role: role as Role };
  } catch (err) {
    // One message for every cause, so clients cannot probe which check failed.
    throw new UnauthorizedError('invalid or expired token', undefined, { cause: err });
  }
}

export function parseBearer(header: string | undefined): string {
  const token = header ? BEARER.exec(header.trim())?.[1] : undefined;
  if (!token || token.length > MAX_TOKEN_LENGTH) throw new UnauthorizedError('missing bearer token');
  return token;
}
