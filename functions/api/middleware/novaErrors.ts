import type { MiddlewareObj } from '@middy/core';
import { DomainError, type DomainErrorKind } from '../../core/shared/errors.js';
import { isThrottle } from '../../core/shared/throttles.js';
import { logger } from '../../observability/index.js';
import { HttpFault, json, type ApiContext, type ApiEvent, type ApiResult } from '../http.js';
import { IdentityUnavailable, Unauthenticated } from '../../core/identity/identity.js';
import { serviceOf, type ServiceName } from '../services.js';
import { inAcceptedFormat } from '../images/errors.js';

const STATUS: Record<DomainErrorKind, number> = {
  badRequest: 400, forbidden: 403, itemNotFound: 404, conflictingRequest: 409, serviceUnavailable: 503, notImplemented: 501,
};

/** Errors from middy's own middlewares (router, JSON parser), by status, in Nova's words. */
function fromHttpError(status: number): { kind: DomainErrorKind | 'computeFault'; message: string } {
  if (status === 404) return { kind: 'itemNotFound', message: 'The resource could not be found.' };
  if (status === 415 || status === 422 || status === 400) return { kind: 'badRequest', message: 'Malformed request body' };
  return { kind: 'computeFault', message: 'Unexpected API Error.' };
}

const httpStatusOf = (err: unknown): number | undefined => {
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
};

export function novaFault(kind: string, code: number, message: string): ApiResult {
  return json(code, { [kind]: { code, message } });
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  409: 'Conflict', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity',
  429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
};

/** Neutron's exception names for errors that do not carry their own (neutron_lib/exceptions). */
const NEUTRON_TYPES: Record<number, string> = {
  400: 'HTTPBadRequest', 403: 'PolicyNotAuthorized', 404: 'NotFound', 405: 'HTTPMethodNotAllowed', 409: 'Conflict',
  413: 'RequestEntityTooLarge', 503: 'ServiceUnavailable',
};

/**
 * Each service's error body: Nova's and Cinder's `{"<kind>": {"code", "message"}}`; Glance's as
 * webob writes it (`{"message", "code": "404 Not Found", "title"}`); Neutron's
 * `{"NeutronError": {"type", "message", "detail"}}`.
 */
export function serviceFault(service: ServiceName, kind: string, code: number, message: string, type?: string): ApiResult {
  if (service === 'image') return json(code, { message, code: `${code} ${REASONS[code] ?? 'Error'}`, title: REASONS[code] ?? 'Error' });
  if (service === 'network') {
    return json(code, { NeutronError: { type: type ?? NEUTRON_TYPES[code] ?? 'NeutronError', message, detail: '' } });
  }
  return novaFault(kind, code, message);
}

/**
 * Every error leaves in its service's shape (serviceFault; Nova's `{"<kind>": {"code", "message"}}`
 * for compute). A client's mistake is never a 500; anything unexpected is a computeFault, logged
 * with the request id.
 */
export function novaErrors(): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  return {
    onError: (request) => {
      const err = request.error;
      const service = serviceOf(request.event.path ?? '/');
      const fault = (kind: string, code: number, message: string, type?: string) => {
        const answer = serviceFault(service, kind, code, message, type);
        // Glance's body follows the client's Accept header, as webob's does.
        return service === 'image' ? inAcceptedFormat(answer, request.event.headers?.accept) : answer;
      };
      if (err instanceof DomainError) {
        request.response = fault(err.kind, STATUS[err.kind], err.message, err.type);
        // A 5xx's message is fixed; what caused it (what AWS answered) is for the operator, in the
        // log under the request id the client was given.
        if (STATUS[err.kind] >= 500) {
          logger.error('request failed', { requestId: request.context.requestId, error: (err.cause ?? err) as Error });
        }
      } else if (err instanceof HttpFault) {
        request.response = fault(err.kind, err.code, err.message);
        request.response.headers = { ...request.response.headers, ...err.headers };
      } else if (isThrottle(err)) {
        request.response = fault('serviceUnavailable', 503, 'The service is busy; nothing was changed. Please retry.');
        request.response.headers = { ...request.response.headers, 'retry-after': '1' };
      } else if (err instanceof Unauthenticated) {
        // keystonemiddleware's 401 body.
        request.response = json(401, { error: { code: 401, title: 'Unauthorized', message: err.message } });
      } else if (err instanceof IdentityUnavailable) {
        logger.error('identity service unavailable', { requestId: request.context.requestId, error: err });
        request.response = fault('serviceUnavailable', 503, 'The identity service could not be reached; nothing was changed. Please retry.');
      } else if (httpStatusOf(err) !== undefined && httpStatusOf(err)! < 500) {
        const status = httpStatusOf(err)!;
        const mapped = fromHttpError(status);
        request.response = fault(mapped.kind, mapped.kind === 'computeFault' ? 500 : STATUS[mapped.kind as DomainErrorKind], mapped.message);
      } else {
        logger.error('unexpected API error', { requestId: request.context.requestId, error: err });
        request.response = fault('computeFault', 500,
          'Unexpected API Error. Please report this at the taskgate issue tracker and attach the request id.');
      }
    },
  };
}
