import type { IdentityConfig } from '../shared/config.js';
import type { IdentityProvider } from './identity.js';
import { JwtIdentityProvider } from './jwt.js';
import { KeystoneIdentityProvider, type ServiceCredentials } from './keystone.js';
import { NoauthIdentityProvider } from './noauth.js';

export interface ProviderDeps {
  /** Reads the Keystone service credentials from a secret (Secrets Manager on AWS). */
  readonly secretCredentials?: (secretId: string) => Promise<ServiceCredentials>;
  readonly now?: () => number;
}

/** The identity provider the configuration asks for. */
export function identityProvider(config: IdentityConfig, deps: ProviderDeps = {}): IdentityProvider {
  switch (config.mode) {
    case 'noauth':
      return new NoauthIdentityProvider();
    case 'jwt':
      return new JwtIdentityProvider(config);
    case 'keystone': {
      const c = config.credentials;
      let credentials: () => Promise<ServiceCredentials>;
      if (c.from === 'env') {
        credentials = async () => c;
      } else {
        const read = deps.secretCredentials;
        if (!read) throw new Error('Keystone credentials come from a secret, but no secret reader was given');
        credentials = () => read(c.secretId);
      }
      return new KeystoneIdentityProvider({
        url: config.url, credentials, cacheTtlSeconds: config.cacheTtlSeconds,
        cacheMaxEntries: config.cacheMaxEntries, timeoutMs: config.timeoutMs, now: deps.now,
      });
    }
  }
}
