import type { MiddlewareObj } from '@middy/core';
import type { ApiContext, ApiEvent, ApiResult } from '../http.js';

export class Unauthorized extends Error {}

const TOKEN = /^([^:\s]+):([^:\s]+)$/;

/**
 * The caller, by the convention of Nova's old noauth2 mode: `X-Auth-Token: <user>:<project>`,
 * user `admin` is an administrator. Version discovery needs no token, as in Nova.
 */
export function noauthCaller(isPublic: (event: ApiEvent) => boolean): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  return {
    before: (request) => {
      if (isPublic(request.event)) return;
      const token = request.event.headers?.['x-auth-token'];
      const match = token ? TOKEN.exec(token) : null;
      if (!match) throw new Unauthorized('The request you have made requires authentication.');
      const [, userId, projectId] = match as unknown as [string, string, string];
      request.context.caller = { userId, projectId, isAdmin: userId === 'admin' };
    },
  };
}
