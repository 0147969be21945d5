import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { lambdaContext } from './lambdaContext.js';
import { runAuthorizer, type LocalAuthorizer } from './authorizer.js';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** What API Gateway's REST proxy integration (`/{proxy+}`) hands the Lambda for a request. */
export function proxyEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(',');
    multiValueHeaders[name] = values;
  }
  headers['x-forwarded-proto'] ??= 'http';
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const hasQuery = url.searchParams.size > 0;
  return {
    resource: '/{proxy+}',
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: { proxy: url.pathname.slice(1) },
    stageVariables: null,
    body: body.length > 0 ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000', apiId: 'local', authorizer: undefined, protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET', path: url.pathname, stage: '$default', requestId: randomUUID(),
      requestTimeEpoch: Date.now(), resourceId: 'local', resourcePath: '/{proxy+}',
      domainName: headers.host, identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1' } as never,
    },
  };
}

/** An HTTP server that serves a Lambda proxy handler as API Gateway would. */
export async function serveApi(handler: ProxyHandler, port: number, host = '127.0.0.1', authorizer?: LocalAuthorizer): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const event = proxyEvent(req, Buffer.concat(chunks));
        const refused = authorizer ? await runAuthorizer(authorizer, event) : undefined;
        const result = refused ?? await handler(event, lambdaContext('api', 29_000));
        res.writeHead(result.statusCode, result.headers as Record<string, string>);
        res.end(result.body);
      } catch (err) {
        // API Gateway's own answer when the integration fails.
        console.error('api handler failed', err);
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal server error' }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host}:${address.port}` };
}
