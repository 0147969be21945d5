import type { MiddlewareObj } from '@middy/core';
import { callerOf, fromAuthorizerContext } from '../../core/identity/caller.js';
import { Unauthenticated, requireToken, type IdentityProvider } from '../../core/identity/identity.js';
import type { ApiContext, ApiEvent, ApiResult } from '../http.js';

/**
 * The caller of a request. In Keystone and JWT modes API Gateway's authorizer has validated the
 * token and put the caller in the request context (on AWS, and in the local runtime, which runs
 * the same authorizer before the API function); in development mode (noauth) there is no
 * authorizer and the API function reads the token with the provider it was given. With neither,
 * nothing is admitted. Version discovery needs no token, as in Nova.
 */
export function requestCaller(
  isPublic: (event: ApiEvent) => boolean, provider?: IdentityProvider,
): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  return {
    before: async (request) => {
      if (isPublic(request.event)) return;
      const fromAuthorizer = fromAuthorizerContext(request.event.requestContext?.authorizer as Record<string, unknown> | undefined);
      if (fromAuthorizer) {
        request.context.caller = fromAuthorizer;
        return;
      }
      if (!provider) throw new Unauthenticated('no authorizer context');
      request.context.caller = callerOf(await provider.authenticate(requireToken(request.event.headers?.['x-auth-token'])));
    },
  };
}
