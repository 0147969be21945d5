import { createHash } from 'node:crypto';

// A bounded cache of token validations, as keystonemiddleware's auth_token keeps one: an entry
// lives until the cache TTL or the token's own expiry, whichever is first, so a revoked token is
// noticed within the TTL and an expired one never outlives its expiry. Invalid tokens are cached
// too (negative caching), so a flood of bad tokens does not become a flood of Keystone calls.
// Keys are SHA-256 digests: the cache never holds a usable token.

export type Verdict<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

interface Entry<T> { readonly verdict: Verdict<T>; readonly until: number }

export interface TokenCacheOptions {
  /** Seconds an entry may be served without asking again. */
  readonly ttlSeconds: number;
  /** Most entries kept; the oldest is dropped first. */
  readonly maxEntries: number;
  readonly now?: () => number;
}

export class TokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly now: () => number;

  constructor(private readonly options: TokenCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  static key(token: string): string {
    return createHash('sha256').update(token).digest('hex');
  }

  get(token: string): Verdict<T> | undefined {
    const key = TokenCache.key(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() >= entry.until) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.verdict;
  }

  /** Caches a verdict until the TTL, or the token's expiry (epoch ms) when that comes first. */
  set(token: string, verdict: Verdict<T>, expiresAtMs?: number): void {
    const key = TokenCache.key(token);
    const ttlEnd = this.now() + this.options.ttlSeconds * 1000;
    const until = expiresAtMs === undefined ? ttlEnd : Math.min(ttlEnd, expiresAtMs);
    if (until <= this.now()) return;
    this.entries.delete(key);
    this.entries.set(key, { verdict, until });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
