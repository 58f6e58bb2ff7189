import { config } from '../config.ts';

// HS256 is only as strong as its key; RFC 7518 asks for at least the hash size (256 bits).
const MIN_SECRET_BYTES = 32;

/**
 * The HMAC key for tokens. Secrets Manager lookups are cached per container by getSecretString, and a fetch
 * failure surfaces as ServiceUnavailableError; a key that is too short is a deployment bug and throws plainly.
 */
export async function getJwtSecret(): Promise<Uint8Array> {
  const { jwtSecret, jwtSecretId } = config.auth;
  let secret: string;
  if (jwtSecret) secret = jwtSecret;
  // Loaded only for a secret in Secrets Manager: evaluating the SDK is a good part of every function's cold start.
  else if (jwtSecretId) secret = await (await import('../aws/secrets.ts')).getSecretString(jwtSecretId);
  else throw new Error('JWT secret is not configured');

  const key = new TextEncoder().encode(secret);
  if (key.byteLength < MIN_SECRET_BYTES) {
    throw new Error(`JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return key;
}
