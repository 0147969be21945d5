import type { Caller } from '../instance.js';
import type { Identity } from './identity.js';

/** The domain's caller for an identity: the admin role makes an administrator. */
export function callerOf(identity: Pick<Identity, 'userId' | 'projectId' | 'roles'>): Caller {
  return { userId: identity.userId, projectId: identity.projectId, roles: identity.roles, isAdmin: identity.roles.includes('admin') };
}

/**
 * What the authorizer hands the API function in API Gateway's request context: string values
 * only (API Gateway's rule), roles comma-joined.
 */
export interface AuthorizerContext {
  readonly userId: string;
  readonly projectId: string;
  readonly roles: string;
}

export function toAuthorizerContext(identity: Identity): AuthorizerContext {
  return { userId: identity.userId, projectId: identity.projectId, roles: identity.roles.join(',') };
}

export function fromAuthorizerContext(context: Record<string, unknown> | null | undefined): Caller | undefined {
  const { userId, projectId, roles } = context ?? {};
  if (typeof userId !== 'string' || typeof projectId !== 'string' || typeof roles !== 'string' || !userId || !projectId) return undefined;
  return callerOf({ userId, projectId, roles: roles.split(',').filter(Boolean) });
}
