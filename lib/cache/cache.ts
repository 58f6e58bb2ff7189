// One cache interface, two implementations (Redis, in-process). Lists live as fields of one hash so that a
// single `del` of the hash invalidates every cached page, filter and sort at once.
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** A field of a hash; the hash expires `ttlSeconds` after its first field was written. */
  hget(hash: string, field: string): Promise<string | null>;
  hset(hash: string, field: string, value: string, ttlSeconds: number): Promise<void>;
  del(keys: string[]): Promise<void>;
  ping(): Promise<void>;
}
