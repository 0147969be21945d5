import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createApi, type ApiOptions } from '../../functions/api/app.js';
import { ConfigError, EnvReader, publicUrlSettings } from '../../functions/core/shared/config.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';

// Links a client can follow wherever the API is mounted (issue 13, item 5): behind API Gateway's
// own domain and stage, behind a custom domain with a base path, behind LocalStack's
// `_user_request_` URLs, and whatever Host or X-Forwarded-Proto the client sends. The events are
// shaped as each front hands them to the function (paths and request context as documented by
// AWS and as LocalStack's parser builds them). openstacksdk's version discovery reads `GET /`
// and follows the `self` link of v2.1: that link must lead back to the API.

function apiWith(options: ApiOptions) {
  return createApi({
    // No backend, but an empty flavor partition: only the built-in flavors (functions/core/compute/flavors.ts).
    table: { db: { send: async () => ({ Items: [] }) } as never, name: 'unused' },
    queue: sqsOperationQueue(new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }), 'unused'),
    claimLeaseMs: 1000,
  }, { identity: new NoauthIdentityProvider(), ...options }); // the token below is development mode's
}

interface Front {
  /** event.path as the front passes it */
  readonly path: string;
  /** requestContext.path */
  readonly fullPath: string;
  readonly domainName: string;
  readonly stage: string;
  readonly apiId?: string;
  readonly resource?: string;
}

async function call(options: ApiOptions, front: Front, headers: Record<string, string> = {}) {
  const req = { method: 'GET', url: front.path, headers: {}, socket: { remoteAddress: '127.0.0.1' } };
  const event: APIGatewayProxyEvent = proxyEvent(req as never, Buffer.alloc(0));
  event.headers = { 'X-Auth-Token': 'alice:demo', Host: 'evil.example', 'X-Forwarded-Proto': 'javascript', ...headers };
  event.resource = front.resource ?? '/{proxy+}';
  Object.assign(event.requestContext, {
    path: front.fullPath, domainName: front.domainName, stage: front.stage, apiId: front.apiId ?? 'a1b2c3d4e5',
  });
  const res = await apiWith(options)(event as never, lambdaContext('api', 1000) as never);
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

describe('API Gateway\'s own domain', () => {
  const domain = 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com';
  it('links carry https, the domain and the stage', async () => {
    const res = await call({}, { path: '/v2.1/flavors/1', fullPath: '/prod/v2.1/flavors/1', domainName: domain, stage: 'prod' });
    expect(res.status).toBe(200);
    expect(res.body.flavor.links[0].href).toBe(`https://${domain}/prod/v2.1/flavors/1`);
  });
  it('version discovery at the stage\'s root points at the stage\'s v2.1', async () => {
    const res = await call({}, { path: '/', fullPath: '/prod/', domainName: domain, stage: 'prod', resource: '/' });
    expect(res.body.versions.at(-1).links[0].href).toBe(`https://${domain}/prod/v2.1/`);
  });
});

describe('a custom domain with a base path', () => {
  const front = (path: string): Front => ({
    path: `/compute${path}`, fullPath: `/compute${path}`, domainName: 'cloud.example.com', stage: 'prod',
    resource: path === '/' ? '/' : '/{proxy+}',
  });
  it('routes below the base path and links under it', async () => {
    const res = await call({}, front('/v2.1/flavors/1'));
    expect(res.status).toBe(200);
    expect(res.body.flavor.links[0].href).toBe('https://cloud.example.com/compute/v2.1/flavors/1');
  });
  it('version discovery at the base path points at v2.1 under it', async () => {
    const res = await call({}, front('/'));
    expect(res.status).toBe(200);
    expect(res.body.versions.at(-1).links[0].href).toBe('https://cloud.example.com/compute/v2.1/');
  });
  it('with TASKGATE_PUBLIC_URL set, routes below its path and links to it', async () => {
    const res = await call({ links: { publicUrl: 'https://cloud.example.com/compute' } }, front('/v2.1/flavors/1'));
    expect(res.body.flavor.links[0].href).toBe('https://cloud.example.com/compute/v2.1/flavors/1');
  });
});

describe('LocalStack', () => {
  // LocalStack strips `/restapis/<id>/<stage>/_user_request_` from the path, puts `/<stage>` in
  // front of it in requestContext.path, and copies the client's Host into domainName.
  const localstack: Front = {
    path: '/v2.1/flavors/1', fullPath: '/local/v2.1/flavors/1', domainName: 'localhost:4566', stage: 'local', apiId: 'xyz123',
  };
  it('links follow the `_user_request_` URL set in TASKGATE_PUBLIC_URL, with the API id and stage filled in', async () => {
    const publicUrl = 'http://localhost.localstack.cloud:4566/restapis/{apiId}/{stage}/_user_request_';
    const res = await call({ links: { publicUrl } }, localstack);
    expect(res.body.flavor.links[0].href).toBe('http://localhost.localstack.cloud:4566/restapis/xyz123/local/_user_request_/v2.1/flavors/1');
    const root = await call({ links: { publicUrl } }, { ...localstack, path: '/', fullPath: '/local/', resource: '/' });
    expect(root.body.versions.at(-1).links[0].href).toBe('http://localhost.localstack.cloud:4566/restapis/xyz123/local/_user_request_/v2.1/');
  });
});

describe('what the client sends is not a link', () => {
  it.each<Record<string, string>>([
    { 'X-Forwarded-Proto': 'HTTP' },
    { 'X-Forwarded-Proto': 'javascript', Host: 'evil.example/' },
    { 'X-Forwarded-Host': 'evil.example', Forwarded: 'proto=javascript;host=evil.example' },
  ])('%j changes no link', async (headers) => {
    const domain = 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com';
    const res = await call({}, { path: '/v2.1/flavors/1', fullPath: '/prod/v2.1/flavors/1', domainName: domain, stage: 'prod' }, headers);
    expect(res.body.flavor.links[0].href).toBe(`https://${domain}/prod/v2.1/flavors/1`);
  });

  it('a request context domain that is not a host name falls back to API Gateway\'s domain for the API id', async () => {
    const res = await call({ links: { region: 'eu-west-1' } }, {
      path: '/v2.1/flavors/1', fullPath: '/prod/v2.1/flavors/1', domainName: 'javascript://evil', stage: 'prod', apiId: 'a1b2c3d4e5',
    });
    expect(res.body.flavor.links[0].href).toBe('https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/v2.1/flavors/1');
  });
});

describe('TASKGATE_PUBLIC_URL', () => {
  const read = (value: string) => publicUrlSettings(new EnvReader({ TASKGATE_PUBLIC_URL: value }));
  it('takes an http(s) URL with the known placeholders', () => {
    expect(read('https://cloud.example.com/compute').publicUrl).toBe('https://cloud.example.com/compute');
    expect(read('http://localhost:4566/restapis/{apiId}/{stage}/_user_request_').publicUrl).toContain('{apiId}');
  });
  it.each(['javascript://evil.example', 'ftp://x', 'not a url', 'https://x/?q=1', 'https://x/#f', 'https://{host}/'])(
    'refuses %s at start', (value) => {
      expect(() => read(value)).toThrow(ConfigError);
    });
});
