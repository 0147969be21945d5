import { randomUUID } from 'node:crypto';
import type { MiddlewareObj, Request } from '@middy/core';
import { logger } from '../../observability/index.js';
import type { ApiContext, ApiEvent, ApiResult } from '../http.js';

const GLOBAL_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Nova's request ids: a fresh `req-<uuid>` per request on `x-openstack-request-id` and
 * `x-compute-request-id`, success or error; a caller's X-OpenStack-Request-ID, when well formed,
 * is kept as the global id (on the context, and with the work queued for the worker) and logged
 * with ours. Nova answers with its own id only, and so does taskgate.
 */
export function requestIds(): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  const addHeaders = (request: Request<ApiEvent, ApiResult, Error, ApiContext>) => {
    if (!request.response) return;
    request.response.headers = {
      ...request.response.headers,
      'x-openstack-request-id': request.context.requestId,
      'x-compute-request-id': request.context.requestId,
    };
  };
  return {
    before: (request) => {
      request.context.requestId = `req-${randomUUID()}`;
      const global = request.event.headers?.['x-openstack-request-id'];
      if (global && GLOBAL_ID.test(global)) {
        request.context.globalRequestId = global;
        logger.info('request carries a global request id', { requestId: request.context.requestId, globalRequestId: global });
      }
    },
    after: addHeaders,
    onError: addHeaders,
  };
}
