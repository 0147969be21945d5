// API Gateway's own answers when its authorizer refuses or fails, in Nova's (keystonemiddleware's)
// shapes. The CDK stack installs them as gateway responses; the local runtime answers the same.

export const UNAUTHORIZED_BODY = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };
export const AUTHORIZER_FAILURE_BODY = { serviceUnavailable: { code: 503, message: 'The identity service could not be reached; nothing was changed. Please retry.' } };

export const GATEWAY_RESPONSES = {
  UNAUTHORIZED: { statusCode: 401, body: UNAUTHORIZED_BODY },
  AUTHORIZER_FAILURE: { statusCode: 503, body: AUTHORIZER_FAILURE_BODY },
  AUTHORIZER_CONFIGURATION_ERROR: { statusCode: 503, body: AUTHORIZER_FAILURE_BODY },
} as const;

/** Requests API Gateway serves without the authorizer: Nova's version discovery. */
export function isPublicPath(path: string): boolean {
  // Version discovery: the list, and the v2.1 and v2.0 documents Nova's list links to.
  return path === '/' || /^\/v2(\.1)?\/?$/.test(path);
}
