import { Unauthenticated, type Identity, type IdentityProvider } from './identity.js';

const TOKEN = /^([^:\s]+):([^:\s]+)$/;

/**
 * Development mode, by Nova's old noauth2 convention: `X-Auth-Token: <user>:<project>`; user
 * `admin` is an administrator, anyone else a member. Anyone can claim to be anyone: only for a
 * machine nobody else reaches, and only when asked for by name (TASKGATE_AUTH_MODE=noauth).
 */
export class NoauthIdentityProvider implements IdentityProvider {
  readonly mode = 'noauth' as const;

  async authenticate(token: string): Promise<Identity> {
    const match = TOKEN.exec(token);
    if (!match) throw new Unauthenticated('not <user>:<project>');
    const [, userId, projectId] = match as unknown as [string, string, string];
    return { userId, projectId, roles: userId === 'admin' ? ['admin', 'member', 'reader'] : ['member', 'reader'] };
  }
}
