import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayProxyResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { UNAUTHORIZED } from '../functions/authorizer/authorize.js';
import { GATEWAY_RESPONSES, isPublicPath, type GatewayResponseType } from '../functions/authorizer/gatewayResponses.js';
import { logger } from '../functions/observability/index.js';

/** A REQUEST authorizer run in-process, as API Gateway runs the authorizer Lambda before the API's. */
export type LocalAuthorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;

/** API Gateway's own answer of a type, as the stack installs it (lib/api.ts). */
export function gatewayResponse(kind: GatewayResponseType): APIGatewayProxyResult {
  const r = GATEWAY_RESPONSES[kind];
  return { statusCode: r.statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(r.body) };
}

/**
 * Runs the authorizer for a proxy event: on success puts its context (and principalId) in the
 * event's requestContext.authorizer and returns undefined; otherwise returns API Gateway's answer.
 * Version discovery skips it, as its methods have no authorizer in the stack.
 */
export async function runAuthorizer(authorizer: LocalAuthorizer, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult | undefined> {
  if (isPublicPath(event.path)) return undefined;
  const methodArn = `arn:aws:execute-api:local:000000000000:local/$default/${event.httpMethod}${event.path}`;
  let result: APIGatewayAuthorizerResult;
  try {
    result = await authorizer({
      type: 'REQUEST', methodArn, resource: event.resource, path: event.path, httpMethod: event.httpMethod,
      headers: event.headers, multiValueHeaders: event.multiValueHeaders, pathParameters: event.pathParameters,
      queryStringParameters: event.queryStringParameters, multiValueQueryStringParameters: event.multiValueQueryStringParameters,
      stageVariables: event.stageVariables, requestContext: event.requestContext,
    } as APIGatewayRequestAuthorizerEvent);
  } catch (err) {
    if ((err as Error).message === UNAUTHORIZED) return gatewayResponse('UNAUTHORIZED');
    logger.error('authorizer failed', { error: err as Error });
    return gatewayResponse('AUTHORIZER_FAILURE');
  }
  const allowed = result.policyDocument.Statement.some((s) => 'Effect' in s && s.Effect === 'Allow');
  if (!allowed) return gatewayResponse('ACCESS_DENIED');
  (event.requestContext as { authorizer: unknown }).authorizer = { ...result.context, principalId: result.principalId };
  return undefined;
}
