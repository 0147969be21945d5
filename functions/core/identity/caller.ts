import type { Caller } from '../compute/instance.js';
import { hasRole } from '../shared/policy.js';
import type { Identity } from './identity.js';

/** The domain's caller for an identity: the role named exactly `admin` makes an administrator (policy.ts, hasRole). */
export function callerOf(identity: Pick<Identity, 'userId' | 'projectId' | 'roles'>): Caller {
  return { userId: identity.userId, projectId: identity.projectId, roles: identity.roles, isAdmin: hasRole(identity.roles, 'admin') };
}

/**
 * The most roles an identity carries past the authorizer: the first MAX_ROLES are kept, the rest
 * dropped. Dropping a role can only take privilege away (an admin whose `admin` comes after the
 * thousandth role is not one here), never give it; a context with more is refused outright.
 * There is no cap on a role name's length: API Gateway passes the authorizer's response as a whole
 * (within Lambda's 6 MB response), and one too large fails the authorizer, which admits nobody.
 */
export const MAX_ROLES = 1000;

/**
 * What the authorizer hands the API function in API Gateway's request context, whose values may
 * only be strings, numbers or booleans. The roles are a JSON array of strings, not a joined
 * string: a JSON list cannot be confused, whereas commas (and spaces) are legal in Keystone role
 * names, Cognito group names and most IdPs' group names, so a role `viewer,admin` split on commas
 * would come out as `admin`.
 */
export interface AuthorizerContext {
  readonly userId: string;
  readonly projectId: string;
  /** JSON.stringify of the roles: `["member","reader"]`. */
  readonly roles: string;
}

export function toAuthorizerContext(identity: Identity): AuthorizerContext {
  return { userId: identity.userId, projectId: identity.projectId, roles: JSON.stringify(identity.roles.slice(0, MAX_ROLES)) };
}

/** The roles of a context, or undefined unless they are exactly a JSON array of at most MAX_ROLES strings. */
function parseRoles(raw: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length > MAX_ROLES || !parsed.every((r) => typeof r === 'string')) return undefined;
  return parsed as string[];
}

/** The caller the authorizer admitted; undefined (unauthenticated) for a missing or malformed context. */
export function fromAuthorizerContext(context: Record<string, unknown> | null | undefined): Caller | undefined {
  const { userId, projectId, roles } = context ?? {};
  if (typeof userId !== 'string' || typeof projectId !== 'string' || typeof roles !== 'string' || !userId || !projectId) return undefined;
  const parsed = parseRoles(roles);
  return parsed ? callerOf({ userId, projectId, roles: parsed }) : undefined;
}
