// Who is calling: what every identity mode (Keystone, OIDC/JWT, development noauth) reduces a
// token to. The domain knows nothing of tokens; it sees a Caller (functions/core/compute/instance.ts).

/** Nova's default roles. Keystone's implied roles put `member` and `reader` in an admin's token too. */
export type Role = 'admin' | 'member' | 'reader';

export interface Identity {
  readonly userId: string;
  readonly projectId: string;
  /** The token's role names as given (other names are kept and ignored by the policy). */
  readonly roles: readonly string[];
  /** When the token stops being valid (epoch ms), when the mode knows it. */
  readonly expiresAtMs?: number;
}

/** The token is missing, malformed, expired, revoked or unknown: 401. */
export class Unauthenticated extends Error {
  override readonly name = 'Unauthenticated';
  constructor(readonly reason: string) {
    super('The request you have made requires authentication.');
  }
}

/** The identity service could not be asked (down, throttled, misconfigured): 503, try again. */
export class IdentityUnavailable extends Error {
  override readonly name = 'IdentityUnavailable';
}

/** The seam every mode implements: a token in, an identity out (or Unauthenticated). */
export interface IdentityProvider {
  readonly mode: 'keystone' | 'jwt' | 'noauth';
  authenticate(token: string): Promise<Identity>;
}

/** Longest token any mode accepts: Keystone's fernet tokens are ~200 bytes, JWTs a few KB. */
export const MAX_TOKEN_LENGTH = 8192;

export function requireToken(token: string | undefined): string {
  if (!token) throw new Unauthenticated('no token');
  if (token.length > MAX_TOKEN_LENGTH) throw new Unauthenticated('token too long');
  return token;
}
