import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { toAuthorizerContext } from '../core/identity/caller.js';
import { IdentityUnavailable, Unauthenticated, requireToken, type IdentityProvider } from '../core/identity/identity.js';
import { logger } from '../observability/index.js';

/** API Gateway's REQUEST authorizer contract: throwing exactly 'Unauthorized' makes it answer 401. */
export const UNAUTHORIZED = 'Unauthorized';

function header(event: APIGatewayRequestAuthorizerEvent, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name && value) return value;
  }
  return undefined;
}

/**
 * The whole API, for API Gateway's authorizer cache: a result is cached per token and reused for
 * every method and path, so it must allow them all (policy is the API function's, per request).
 */
function wholeApi(methodArn: string): string {
  const [arn, apiId, stage] = methodArn.split('/');
  return `${arn}/${apiId}/${stage}/*/*`;
}

/**
 * A REQUEST authorizer: the X-Auth-Token through the configured identity provider; the caller
 * goes on to the API function in the request context (userId, projectId, roles).
 */
export async function authorizeRequest(provider: IdentityProvider, event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  try {
    const identity = await provider.authenticate(requireToken(header(event, 'x-auth-token')));
    return {
      principalId: identity.userId,
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: wholeApi(event.methodArn) }] },
      context: { ...toAuthorizerContext(identity) },
    };
  } catch (err) {
    if (err instanceof Unauthenticated) throw new Error(UNAUTHORIZED);
    if (err instanceof IdentityUnavailable) logger.error('identity service unavailable', { error: err });
    throw err;
  }
}
