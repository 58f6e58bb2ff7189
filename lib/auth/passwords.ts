import { randomBytes, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';

// promisify's typings only see scrypt's overload without options, so the signature we call is spelled out.
const scryptAsync = promisify(scrypt) as (
  password: BinaryLike,
  salt: BinaryLike,
  keylen: number,
  options: ScryptOptions,
) => Promise<Buffer>;

interface Params {
  N: number;
  r: number;
  p: number;
}

const CURRENT: Params = { N: 16384, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 64;

// Upper bounds for parameters read back from storage, so a corrupt row cannot make a login burn seconds or
// gigabytes. They leave room to raise the cost later without touching the parser.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

// OpenSSL counts V (128·r·(N+2)) plus B (128·r·p) against maxmem. Node's 32 MiB default happens to fit the
// current parameters; stating the real need keeps a later cost increase from failing with a memory error.
const maxmemFor = ({ N, r, p }: Params) => 128 * r * (N + 2 + p);

function derive(plain: string, salt: Buffer, keylen: number, params: Params): Promise<Buffer> {
  return scryptAsync(plain, salt, keylen, { ...params, maxmem: maxmemFor(params) });
}

export async function hashPassword(plain: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(plain, salt, KEY_BYTES, CURRENT);
  const { N, r, p } = CURRENT;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const actual = await derive(plain, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(actual, parsed.hash);
}

/** For a login with an unknown email: costs what a real verify costs, so response time does not reveal accounts. */
export async function verifyAgainstNothing(plain: string): Promise<false> {
  const actual = await derive(plain, randomBytes(SALT_BYTES), KEY_BYTES, CURRENT);
  timingSafeEqual(actual, Buffer.alloc(KEY_BYTES));
  return false;
}

const STORED = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function parse(stored: string): { params: Params; salt: Buffer; hash: Buffer } | undefined {
  const m = STORED.exec(stored);
  if (!m) return undefined;
  const [, n, r, p, salt64, hash64] = m as unknown as [string, string, string, string, string, string];
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const powerOfTwo = params.N > 1 && (params.N & (params.N - 1)) === 0;
  if (!powerOfTwo || params.N > MAX_N) return undefined;
  if (params.r < 1 || params.r > MAX_R || params.p < 1 || params.p > MAX_P) return undefined;
  const salt = Buffer.from(salt64, 'base64');
  const hash = Buffer.from(hash64, 'base64');
  if (salt.length < SALT_BYTES || hash.length < 16 || hash.length > 128) return undefined;
  return { params, salt, hash };
}
