import { Unauthenticated } from '../../functions/core/identity/identity.js';
import { KeystoneIdentityProvider } from '../../functions/core/identity/keystone.js';
import { TokenCache } from '../../functions/core/identity/tokenCache.js';

// The rules guarded (functions/core/identity/tokenCache.ts, as keystonemiddleware's auth_token
// cache): a validation is served from the cache for at most the cache TTL, and an accepted token
// never past its own expiry, whichever comes first. Rejected tokens are cached too (so a flood of
// bad tokens is not a flood of Keystone calls), but for the TTL only: a token Keystone did not
// know yet (issued on another Keystone node, not yet replicated) is accepted once the TTL is over,
// not refused for the life of the process. test/keystone/ covers some of this against a real
// Keystone, outside `npm test`; here Keystone is a fake and the clock is the test's.

const TTL_SECONDS = 300;
const TTL_MS = TTL_SECONDS * 1000;
const HOUR = 3600_000;

/** Keystone's token API as the provider uses it: password login, and GET /v3/auth/tokens. */
class FakeKeystone {
  /** Tokens Keystone knows, with their expiry (epoch ms). */
  readonly tokens = new Map<string, number>();
  /** The subject token of every validation asked, in order. */
  readonly validations: string[] = [];

  constructor(private readonly now: () => number) {}

  readonly fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    if (init?.method === 'POST') {
      return new Response(JSON.stringify({ token: { expires_at: new Date(this.now() + HOUR).toISOString() } }), {
        status: 201, headers: { 'x-subject-token': 'taskgate-service-token' },
      });
    }
    const subject = new Headers(init?.headers).get('x-subject-token')!;
    this.validations.push(subject);
    const expiresAt = this.tokens.get(subject);
    if (expiresAt === undefined) return new Response('{"error": {"code": 404}}', { status: 404 });
    return new Response(JSON.stringify({
      token: { expires_at: new Date(expiresAt).toISOString(), user: { id: 'alice' }, project: { id: 'demo' }, roles: [{ name: 'member' }] },
    }), { status: 200 });
  }) as typeof fetch;
}

function keystone() {
  const clock = { at: Date.parse('2031-06-01T00:00:00.000Z') };
  const now = () => clock.at;
  const fake = new FakeKeystone(now);
  const provider = new KeystoneIdentityProvider({
    url: 'https://keystone.test/v3', cacheTtlSeconds: TTL_SECONDS, cacheMaxEntries: 100, timeoutMs: 1000, now, fetch: fake.fetch,
    credentials: async () => ({ username: 'taskgate', password: 'p', projectName: 'service', userDomainName: 'Default', projectDomainName: 'Default' }),
  });
  return { clock, fake, provider, start: clock.at };
}

const alice = { userId: 'alice', projectId: 'demo', roles: ['member'] };

describe('Keystone validations are cached for the TTL at most', () => {
  it('a rejected token is refused from the cache within the TTL; past it Keystone is asked again, and a token valid by then is accepted', async () => {
    const { clock, fake, provider, start } = keystone();
    await expect(provider.authenticate('tok-late')).rejects.toThrow(Unauthenticated);
    expect(fake.validations).toEqual(['tok-late']);

    // Keystone comes to know the token (it was issued on a node not yet replicated).
    fake.tokens.set('tok-late', start + HOUR);
    clock.at = start + TTL_MS - 1;
    await expect(provider.authenticate('tok-late')).rejects.toThrow(Unauthenticated);
    expect(fake.validations).toEqual(['tok-late']); // the cached refusal, no second call

    clock.at = start + TTL_MS;
    await expect(provider.authenticate('tok-late')).resolves.toMatchObject(alice);
    expect(fake.validations).toEqual(['tok-late', 'tok-late']);
  });

  it('an accepted token is served from the cache within the TTL; past it a token revoked meanwhile is refused', async () => {
    const { clock, fake, provider, start } = keystone();
    fake.tokens.set('tok-revoked', start + 10 * HOUR);
    await expect(provider.authenticate('tok-revoked')).resolves.toMatchObject(alice);

    fake.tokens.delete('tok-revoked');
    clock.at = start + TTL_MS - 1;
    await expect(provider.authenticate('tok-revoked')).resolves.toMatchObject(alice); // as keystonemiddleware: revocation is seen within the TTL
    expect(fake.validations).toEqual(['tok-revoked']);

    clock.at = start + TTL_MS;
    await expect(provider.authenticate('tok-revoked')).rejects.toThrow(Unauthenticated);
    expect(fake.validations).toEqual(['tok-revoked', 'tok-revoked']);
  });

  it('an accepted token that expires before the TTL is never served past its expiry', async () => {
    const { clock, fake, provider, start } = keystone();
    const expiry = start + TTL_MS / 5;
    fake.tokens.set('tok-short', expiry);
    await expect(provider.authenticate('tok-short')).resolves.toMatchObject({ ...alice, expiresAtMs: expiry });

    clock.at = expiry - 1;
    await expect(provider.authenticate('tok-short')).resolves.toMatchObject(alice);
    expect(fake.validations).toEqual(['tok-short']);

    // At its expiry, well inside the TTL, the cache no longer answers: the token is refused.
    clock.at = expiry;
    await expect(provider.authenticate('tok-short')).rejects.toThrow(Unauthenticated);
    expect(fake.validations).toEqual(['tok-short', 'tok-short']);
  });
});

describe('TokenCache', () => {
  it('keeps at most maxEntries, dropping the oldest first, and holds digests, never the tokens', () => {
    const at = 1_000_000;
    const cache = new TokenCache<string>({ ttlSeconds: TTL_SECONDS, maxEntries: 2, now: () => at });
    cache.set('first', { ok: true, value: 'a' });
    cache.set('second', { ok: false, reason: 'Keystone says 404' });
    cache.set('third', { ok: true, value: 'c' });
    expect(cache.size).toBe(2);
    expect(cache.get('first')).toBeUndefined();
    expect(cache.get('second')).toEqual({ ok: false, reason: 'Keystone says 404' });
    expect(cache.get('third')).toEqual({ ok: true, value: 'c' });
    expect(TokenCache.key('third')).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify([...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()])).not.toMatch(/second|third/);
  });

  it('does not keep a verdict for a token already expired', () => {
    const at = 1_000_000;
    const cache = new TokenCache<string>({ ttlSeconds: TTL_SECONDS, maxEntries: 10, now: () => at });
    cache.set('stale', { ok: true, value: 'a' }, at);
    expect(cache.get('stale')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
