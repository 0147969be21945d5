import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { lambdaContext } from './lambdaContext.js';
import { logger } from '../functions/observability/index.js';
import { gatewayResponse, runAuthorizer, type LocalAuthorizer } from './authorizer.js';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** API Gateway's payload limit for REST APIs: a larger request never reaches the function. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** Where the local front listens: what API Gateway's requestContext.domainName is on AWS. */
export interface Listener {
  readonly domainName: string;
}

function decode(text: string): string {
  try { return decodeURIComponent(text.replace(/\+/g, ' ')); } catch { return text; }
}

/**
 * The query string as API Gateway hands it over: decoded keys and values, the last value of a
 * repeated key in the single-value map. Null-prototype objects, so a key such as `__proto__` or
 * `constructor` is a key like any other.
 */
function parseQuery(raw: string): { single: Record<string, string>; multi: Record<string, string[]> } | null {
  if (raw === '') return null;
  const single: Record<string, string> = Object.create(null);
  const multi: Record<string, string[]> = Object.create(null);
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const name = decode(at < 0 ? pair : pair.slice(0, at));
    const value = at < 0 ? '' : decode(pair.slice(at + 1));
    single[name] = value;
    (multi[name] ??= []).push(value);
  }
  return Object.keys(single).length > 0 ? { single, multi } : null;
}

/**
 * What API Gateway's REST proxy integration (`/{proxy+}`) hands the Lambda for a request. The
 * path stays as the client sent it, percent-encoding and all (REST APIs do not decode it, nor
 * resolve `..`): a URL parser here would turn `/servers/<id>/os-volume_attachments/%2e%2e` into
 * `/servers/<id>/` and re-target the request.
 */
export function proxyEvent(req: IncomingMessage, body: Buffer, listener: Listener = { domainName: 'localhost' }): APIGatewayProxyEvent {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = (q < 0 ? target : target.slice(0, q)) || '/';
  const query = parseQuery(q < 0 ? '' : target.slice(q + 1));
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(',');
    multiValueHeaders[name] = values;
  }
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: query?.single ?? null,
    multiValueQueryStringParameters: query?.multi ?? null,
    pathParameters: { proxy: decode(path.slice(1)) },
    stageVariables: null,
    body: body.length > 0 ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000', apiId: 'local', authorizer: undefined, protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET', path, stage: '$default', requestId: randomUUID(),
      requestTimeEpoch: Date.now(), resourceId: 'local', resourcePath: '/{proxy+}',
      // API Gateway's own domain, never the client's Host header.
      domainName: listener.domainName, identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1' } as never,
    },
  };
}

/** An HTTP server that serves a Lambda proxy handler as API Gateway would. */
export async function serveApi(handler: ProxyHandler, port: number, host = '127.0.0.1', authorizer?: LocalAuthorizer): Promise<{ server: Server; url: string }> {
  const listener = { domainName: host };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_PAYLOAD_BYTES) {
        // API Gateway refuses the request without calling the function (its REQUEST_TOO_LARGE).
        if (!tooLarge) {
          tooLarge = true;
          const refused = gatewayResponse('REQUEST_TOO_LARGE');
          res.writeHead(refused.statusCode, { ...refused.headers as Record<string, string>, connection: 'close' });
          res.end(refused.body);
          req.resume();
        }
        return;
      }
      chunks.push(c);
    });
    req.on('end', async () => {
      if (tooLarge) return;
      try {
        const event = proxyEvent(req, Buffer.concat(chunks), listener);
        const refused = authorizer ? await runAuthorizer(authorizer, event) : undefined;
        const result = refused ?? await handler(event, lambdaContext('api', 29_000));
        res.writeHead(result.statusCode, result.headers as Record<string, string>);
        res.end(result.body);
      } catch (err) {
        // API Gateway's own answer when the function fails (its DEFAULT_5XX, 502).
        logger.error('api handler failed', { error: err as Error });
        const failed = gatewayResponse('DEFAULT_5XX');
        res.writeHead(failed.statusCode, failed.headers as Record<string, string>);
        res.end(failed.body);
      }
    });
  });
  // An idle keep-alive connection is the client's to close, as API Gateway's are: with Node's 5 s
  // the server could close one just as a client (fetch keeps them 4 s) sent on it, a reset
  // request (ECONNRESET) that a loaded machine, whose timers fire late, made happen in tests.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  const authority = `${address.family === 'IPv6' ? `[${address.address}]` : host}:${address.port}`;
  (listener as { domainName: string }).domainName = authority;
  return { server, url: `http://${authority}` };
}
