// API Gateway's own answers (its gateway responses: a body too large, a request throttled, the
// authorizer refusing or failing, the function failing), in the shapes Nova's clients parse. The
// single source for both the CDK stack (lib/api.ts installs each as a gateway response) and the
// local runtime (local/apiGateway.ts, local/authorizer.ts answers the same).

/** Nova's fault body (nova/api/openstack/wsgi.py, Fault): `{"<kind>": {"code": N, "message": "..."}}`. */
const fault = (kind: string, code: number, message: string) => ({ [kind]: { code, message } });

/**
 * A refused token: keystonemiddleware's 401, which is what a Nova deployment answers (the token is
 * checked in front of Nova), and what the API function answers itself in development mode.
 */
export const UNAUTHORIZED_BODY = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };
export const AUTHORIZER_FAILURE_BODY = fault('serviceUnavailable', 503, 'The identity service could not be reached; nothing was changed. Please retry.');

const FORBIDDEN = fault('forbidden', 403, 'Access was denied to this resource.');
const UNEXPECTED = (code: number) => fault('computeFault', code,
  'Unexpected API Error. Please report this at the taskgate issue tracker and attach the request id.');

export interface GatewayAnswer {
  readonly statusCode: number;
  readonly body: object;
}

/**
 * Every response type API Gateway has, with its default status and Nova's body: the kind is the
 * one Nova's Fault names for the status (400 badRequest, 403 forbidden, 404 itemNotFound, 413 and
 * 429 overLimit, 415 badMediaType, 503 serviceUnavailable, any other computeFault). Each type is
 * listed with its status, so the body's code is the status the client gets: DEFAULT_4XX and
 * DEFAULT_5XX are left only for what has no type of its own (the function failing: 502). Their
 * status is not set on AWS (a fallback's status would replace every other type's in its class,
 * lib/api.ts): the one given here is the local runtime's, and their body's code.
 */
export const GATEWAY_RESPONSES = {
  // The authorizer's.
  UNAUTHORIZED: { statusCode: 401, body: UNAUTHORIZED_BODY },
  ACCESS_DENIED: { statusCode: 403, body: FORBIDDEN },
  AUTHORIZER_FAILURE: { statusCode: 503, body: AUTHORIZER_FAILURE_BODY },
  AUTHORIZER_CONFIGURATION_ERROR: { statusCode: 503, body: AUTHORIZER_FAILURE_BODY },
  // Over API Gateway's 10 MB payload limit: Nova's (oslo's) words for its own, smaller limit.
  REQUEST_TOO_LARGE: { statusCode: 413, body: fault('overLimit', 413, 'Request is too large.') },
  THROTTLED: { statusCode: 429, body: fault('overLimit', 429, 'This request was rate-limited.') },
  QUOTA_EXCEEDED: { statusCode: 429, body: fault('overLimit', 429, 'This request was rate-limited.') },
  BAD_REQUEST_BODY: { statusCode: 400, body: fault('badRequest', 400, 'Malformed request body') },
  BAD_REQUEST_PARAMETERS: { statusCode: 400, body: fault('badRequest', 400, 'Invalid request parameters.') },
  RESOURCE_NOT_FOUND: { statusCode: 404, body: fault('itemNotFound', 404, 'The resource could not be found.') },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, body: fault('badMediaType', 415, 'Unsupported Content-Type') },
  MISSING_AUTHENTICATION_TOKEN: { statusCode: 403, body: FORBIDDEN },
  INVALID_API_KEY: { statusCode: 403, body: FORBIDDEN },
  INVALID_SIGNATURE: { statusCode: 403, body: FORBIDDEN },
  EXPIRED_TOKEN: { statusCode: 403, body: FORBIDDEN },
  WAF_FILTERED: { statusCode: 403, body: FORBIDDEN },
  API_CONFIGURATION_ERROR: { statusCode: 500, body: UNEXPECTED(500) },
  INTEGRATION_FAILURE: { statusCode: 504, body: UNEXPECTED(504) },
  INTEGRATION_TIMEOUT: { statusCode: 504, body: UNEXPECTED(504) },
  DEFAULT_4XX: { statusCode: 400, body: fault('badRequest', 400, 'The server could not comply with the request since it is either malformed or otherwise incorrect.') },
  // The function failed or answered what API Gateway cannot read: API Gateway's 502.
  DEFAULT_5XX: { statusCode: 502, body: UNEXPECTED(502) },
} as const satisfies Record<string, GatewayAnswer>;

export type GatewayResponseType = keyof typeof GATEWAY_RESPONSES;

/** Requests API Gateway serves without the authorizer: each service's version discovery. */
export function isPublicPath(path: string): boolean {
  // Nova's: the list, and the v2.1 and v2.0 documents its list links to.
  if (path === '/' || /^\/v2(\.1)?\/?$/.test(path)) return true;
  // Glance's (`/image`, `/image/versions`), Cinder's (`/volume`, `/volume/v3`) and Neutron's
  // (`/network`, `/network/v2.0`), as their catalog endpoints are discovered.
  return /^\/(image|volume|network)(\/|\/versions\/?|\/v2(\.0)?\/?|\/v3\/?)?$/.test(path);
}
