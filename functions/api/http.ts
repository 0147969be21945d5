import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Caller } from '../core/compute/instance.js';
import type { PolicyName } from '../core/shared/policy.js';
import type { ApiVersion } from './apiVersion.js';

/** What the middlewares add to Lambda's context for the routes. */
export interface ApiContext extends Context {
  /** Nova's request id (req-<uuid>), also the SQS deduplication id of the work it queues. */
  requestId: string;
  /** The caller's X-OpenStack-Request-ID when well formed: Nova's global request id. */
  globalRequestId?: string;
  /**
   * This request retries, under its Idempotency-Key, one that died before answering, and runs
   * as that request (same request id): what it finds already done is not done again.
   */
  resumed?: boolean;
  caller: Caller;
  /** Scheme, host and stage the client used, for Nova's links. */
  baseUrl: string;
  /** The compute microversion the request is served at. */
  apiVersion: ApiVersion;
}

export type ApiEvent = Omit<APIGatewayProxyEvent, 'body'> & { body: unknown };
export type ApiResult = APIGatewayProxyResult;
export type Route = (event: ApiEvent, context: ApiContext) => Promise<ApiResult>;

export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly handler: Route;
  /** The JSON Schema its body is validated with: the route takes a JSON body. */
  readonly body?: object;
  /**
   * The Nova policy (functions/core/shared/policy.ts) a caller must pass for the route to run, checked
   * before anything is read or written (middleware/routePolicy.ts); PUBLIC for version discovery alone.
   * Required: a route without one refuses to start (app.ts, routeTable).
   */
  readonly policy: RoutePolicy;
  /** For the OpenAPI document (functions/api/openapi.ts). */
  readonly doc: RouteDoc;
}

/** Version discovery's marker: served to anyone, without a token, as Nova serves it. */
export const PUBLIC = 'public';
export type RoutePolicy = PolicyName | typeof PUBLIC;

export interface RouteDoc {
  readonly summary: string;
  /** Nova's success status(es) for the route. */
  readonly success: readonly number[];
  /** Query parameters it reads. */
  readonly query?: readonly string[];
}

/** An error answered with Nova's fault body and a status no domain error carries (e.g. 406). */
export class HttpFault extends Error {
  constructor(readonly kind: string, readonly code: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpFault';
  }
}

/** Who asks and under which request ids: what every admission takes from the request. */
export function requester(ctx: ApiContext): { caller: Caller; requestId: string; globalRequestId?: string; resumed?: boolean } {
  return { caller: ctx.caller, requestId: ctx.requestId, globalRequestId: ctx.globalRequestId, ...(ctx.resumed ? { resumed: true } : {}) };
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

export const empty = (statusCode: number): ApiResult => ({ statusCode, headers: {}, body: '' });

/**
 * A path parameter of the route, as the path-parameter step left it (app.ts): decoded, valid
 * for its kind (functions/api/parameters.ts pathParameters) and in canonical spelling.
 */
export function pathParam(event: ApiEvent, name: string): string {
  const value = event.pathParameters?.[name];
  if (!value) throw new Error(`route without path parameter ${name}`);
  return value;
}
