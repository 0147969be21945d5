import { IdentityUnavailable, Unauthenticated, type Identity, type IdentityProvider } from './identity.js';
import { TokenCache } from './tokenCache.js';

// Keystone mode, the way Nova authenticates (keystonemiddleware's auth_token): the client's
// X-Auth-Token is validated by Keystone itself, `GET /v3/auth/tokens` with the token in
// X-Subject-Token, authorized by taskgate's own service token. Keystone answers 404 for a token
// that is unknown, expired or revoked. Results are cached (TokenCache) up to a TTL.

export interface ServiceCredentials {
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName: string;
  readonly projectDomainName: string;
}

export interface KeystoneOptions {
  /** Keystone's identity v3 base, e.g. https://keystone.example.com/v3 */
  readonly url: string;
  readonly credentials: () => Promise<ServiceCredentials>;
  readonly cacheTtlSeconds: number;
  readonly cacheMaxEntries: number;
  /** Per request to Keystone. */
  readonly timeoutMs: number;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
}

interface TokenBody {
  token?: {
    expires_at?: string;
    user?: { id?: string };
    project?: { id?: string };
    roles?: { name?: string }[];
  };
}

/** Seconds before its expiry the service token is replaced. */
const SERVICE_TOKEN_MARGIN_MS = 60_000;

export class KeystoneIdentityProvider implements IdentityProvider {
  readonly mode = 'keystone' as const;
  private readonly cache: TokenCache<Identity>;
  private readonly now: () => number;
  private readonly fetch: typeof fetch;
  private readonly base: string;
  private serviceToken?: Promise<{ token: string; expiresAtMs: number }>;

  constructor(private readonly options: KeystoneOptions) {
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetch;
    this.base = options.url.replace(/\/+$/, '');
    this.cache = new TokenCache({ ttlSeconds: options.cacheTtlSeconds, maxEntries: options.cacheMaxEntries, now: this.now });
  }

  async authenticate(token: string): Promise<Identity> {
    const cached = this.cache.get(token);
    if (cached) {
      if (!cached.ok) throw new Unauthenticated(cached.reason);
      return cached.value;
    }
    const identity = await this.validate(token);
    if (!identity.ok) {
      this.cache.set(token, identity);
      throw new Unauthenticated(identity.reason);
    }
    this.cache.set(token, identity, identity.value.expiresAtMs);
    return identity.value;
  }

  private async validate(token: string): Promise<{ ok: true; value: Identity } | { ok: false; reason: string }> {
    // Keystone refuses a header with control characters anyway; don't send one.
    if (!/^[\x21-\x7e]+$/.test(token)) return { ok: false, reason: 'malformed token' };
    let res = await this.ask(token, await this.serviceTokenValue(false));
    if (res.status === 401) res = await this.ask(token, await this.serviceTokenValue(true)); // our own token expired or was revoked
    if (res.status === 404 || res.status === 400) return { ok: false, reason: `Keystone says ${res.status}` };
    if (res.status !== 200) throw new IdentityUnavailable(`Keystone answered ${res.status} to token validation`);
    const body = await res.json() as TokenBody;
    const t = body.token;
    const expiresAtMs = t?.expires_at ? Date.parse(t.expires_at) : NaN;
    if (!t?.user?.id || Number.isNaN(expiresAtMs)) return { ok: false, reason: 'token without user or expiry' };
    if (expiresAtMs <= this.now()) return { ok: false, reason: 'token expired' };
    if (!t.project?.id) return { ok: false, reason: 'token not scoped to a project' };
    return {
      ok: true,
      value: { userId: t.user.id, projectId: t.project.id, roles: (t.roles ?? []).flatMap((r) => (r.name ? [r.name] : [])), expiresAtMs },
    };
  }

  private async ask(token: string, serviceToken: string): Promise<Response> {
    try {
      return await this.fetch(`${this.base}/auth/tokens?nocatalog`, {
        headers: { 'x-auth-token': serviceToken, 'x-subject-token': token, accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw new IdentityUnavailable(`Keystone unreachable: ${(err as Error).message}`);
    }
  }

  private async serviceTokenValue(renew: boolean): Promise<string> {
    const current = this.serviceToken;
    if (renew || !current) {
      this.serviceToken = this.issueServiceToken();
    } else {
      const held = await current.catch(() => undefined);
      if (!held || held.expiresAtMs - SERVICE_TOKEN_MARGIN_MS <= this.now()) this.serviceToken = this.issueServiceToken();
    }
    const pending = this.serviceToken!;
    try {
      return (await pending).token;
    } catch (err) {
      if (this.serviceToken === pending) this.serviceToken = undefined; // ask again next time
      throw err;
    }
  }

  private async issueServiceToken(): Promise<{ token: string; expiresAtMs: number }> {
    const c = await this.options.credentials();
    let res: Response;
    try {
      res = await this.fetch(`${this.base}/auth/tokens?nocatalog`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ auth: {
          identity: { methods: ['password'], password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } } },
          scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
        } }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw new IdentityUnavailable(`Keystone unreachable: ${(err as Error).message}`);
    }
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) throw new IdentityUnavailable(`taskgate's service user could not log in to Keystone (${res.status})`);
    const body = await res.json() as TokenBody;
    return { token, expiresAtMs: Date.parse(body.token?.expires_at ?? '') || this.now() + 5 * 60_000 };
  }
}
