import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { JwtConfig } from '../shared/config.js';
import { IdentityUnavailable, Unauthenticated, type Identity, type IdentityProvider } from './identity.js';

// OIDC / JWT mode: a token from a Cognito user pool or any OIDC issuer, verified by `jose`
// against the issuer's JWKS (fetched and cached by jose): signature, `exp`/`nbf`, issuer and
// audience. Only asymmetric algorithms are accepted, so `alg: none` and HS256-with-the-public-key
// tricks fail before any claim is read. Project, user and roles come from configurable claims.

/** The JWT mode's settings, as config.ts reads and validates them. */
export type JwtOptions = Omit<JwtConfig, 'mode'>;

/** Reads a claim by name; a dotted name (`custom:project` stays one name) walks nested objects. */
function claim(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  return name.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), payload);
}

/**
 * The roles claim: an array of strings is taken as is (each element one role, commas and spaces
 * included); a string is one role, unless the deployment sets TASKGATE_JWT_ROLES_SEPARATOR, when
 * it is split on exactly that separator and the empty pieces dropped. Anything else: no roles claim.
 */
export function rolesFrom(value: unknown, separator?: string): string[] | undefined {
  if (Array.isArray(value)) return value.every((r) => typeof r === 'string') ? [...value] : undefined;
  if (typeof value === 'string') return (separator ? value.split(separator) : [value]).filter(Boolean);
  return undefined;
}

export class JwtIdentityProvider implements IdentityProvider {
  readonly mode = 'jwt' as const;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly options: JwtOptions) {
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl));
  }

  async authenticate(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.options.issuer,
        audience: this.options.audienceClaim === 'aud' ? this.options.audience : undefined,
        algorithms: [...this.options.algorithms],
        clockTolerance: this.options.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof errors.JOSEError && !(err instanceof errors.JWKSTimeout)) throw new Unauthenticated(err.code);
      if (err instanceof TypeError && /Invalid|JWT|JWS/i.test(err.message)) throw new Unauthenticated('malformed token');
      throw new IdentityUnavailable(`the issuer's keys could not be read: ${(err as Error).message}`);
    }
    if (this.options.audienceClaim === 'client_id' && payload.client_id !== this.options.audience) {
      throw new Unauthenticated('wrong client_id');
    }
    const userId = claim(payload, this.options.userClaim);
    const projectId = claim(payload, this.options.projectClaim);
    const roles = rolesFrom(claim(payload, this.options.rolesClaim), this.options.rolesSeparator);
    if (typeof userId !== 'string' || !userId) throw new Unauthenticated(`no ${this.options.userClaim} claim`);
    if (typeof projectId !== 'string' || !projectId) throw new Unauthenticated(`no ${this.options.projectClaim} claim`);
    if (!roles) throw new Unauthenticated(`no ${this.options.rolesClaim} claim`);
    return { userId, projectId, roles, expiresAtMs: (payload.exp ?? 0) * 1000 };
  }
}
