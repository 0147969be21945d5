import { SQSClient } from '@aws-sdk/client-sqs';
import { createApi } from '../../functions/api/app.js';
import { requestedVersion } from '../../functions/api/apiVersion.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { startBackends, type TestBackends } from '../support/emulators.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';

// Microversion negotiation and version discovery. The route they are asked of (availability
// zones) reads the compute hosts, so the API stands on the embedded emulators.

let backends: TestBackends;
let api: ReturnType<typeof createApi>;
beforeAll(async () => {
  backends = await startBackends();
  api = createApi({
    table: backends.table,
    queue: sqsOperationQueue(new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }), 'unused'),
    claimLeaseMs: 1000,
  }, { identity: new NoauthIdentityProvider() });
});
afterAll(() => backends.stop());

async function get(path: string, headers: Record<string, string> = {}) {
  const req = { method: 'GET', url: path, headers: {}, socket: { remoteAddress: '127.0.0.1' } };
  const event = proxyEvent(req as never, Buffer.alloc(0));
  event.headers = { Host: 'evil.example', 'X-Forwarded-Proto': 'javascript', ...headers };
  // What API Gateway says of itself: links are built from this, never from Host.
  event.requestContext.domainName = 'api.example.com';
  const res = await api(event as never, lambdaContext('api', 1000) as never);
  return { ...res, json: res.body ? JSON.parse(res.body) : undefined };
}

const token = { 'X-Auth-Token': 'alice:demo' };

describe('version discovery', () => {
  it('lists v2.0 then v2.1 at / with its microversion range, without a token', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({
      versions: [{
        id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z',
        links: [{ rel: 'self', href: 'https://api.example.com/v2/' }],
      }, {
        id: 'v2.1', status: 'CURRENT', version: '2.79', min_version: '2.1', updated: '2013-07-23T11:33:21Z',
        links: [{ rel: 'self', href: 'https://api.example.com/v2.1/' }],
      }],
    });
    expect(res.headers?.['x-openstack-request-id']).toMatch(/^req-/);
  });

  it.each(['/v2.1', '/v2.1/'])('describes v2.1 at %s with its media type', async (path) => {
    const res = await get(path);
    expect(res.statusCode).toBe(200);
    expect(res.json.version).toMatchObject({ id: 'v2.1', status: 'CURRENT', version: '2.79', min_version: '2.1' });
    expect(res.json.version['media-types']).toEqual([
      { base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' },
    ]);
  });

  it('is not broken by a version header it does not need', async () => {
    expect((await get('/v2.1/', { 'OpenStack-API-Version': 'compute 9.9' })).statusCode).toBe(200);
  });
});

describe('microversions', () => {
  const versionHeaders = (res: { headers?: Record<string, unknown> }) => ({
    modern: res.headers?.['openstack-api-version'], legacy: res.headers?.['x-openstack-nova-api-version'],
    vary: res.headers?.vary,
  });

  it('serves 2.1 when none is asked, and says so', async () => {
    const res = await get('/v2.1/os-availability-zone', token);
    expect(res.statusCode).toBe(200);
    expect(versionHeaders(res)).toEqual({
      modern: 'compute 2.1', legacy: '2.1', vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
    });
  });

  it.each([
    [{ 'OpenStack-API-Version': 'compute 2.9' }, '2.9'],
    [{ 'OpenStack-API-Version': 'compute 2.3' }, '2.3'],
    [{ 'OpenStack-API-Version': 'compute latest' }, '2.79'],
    [{ 'X-OpenStack-Nova-API-Version': '2.2' }, '2.2'],
    [{ 'X-OpenStack-Nova-API-Version': 'latest' }, '2.79'],
    [{ 'OpenStack-API-Version': 'compute 2.1', 'X-OpenStack-Nova-API-Version': '2.9' }, '2.1'],
    [{ 'OpenStack-API-Version': 'volume 3.0', 'X-OpenStack-Nova-API-Version': '2.5' }, '2.5'],
    [{ 'OpenStack-API-Version': 'volume 3.0, compute 2.4' }, '2.4'],
  ])('%j is served at %s', async (headers, used) => {
    const res = await get('/v2.1/os-availability-zone', { ...token, ...headers });
    expect(res.statusCode).toBe(200);
    expect(versionHeaders(res)).toMatchObject({ modern: `compute ${used}`, legacy: used });
  });

  it.each(['2.80', '2.99', '2.0', '3.0', '1.1'])('refuses %s with 406, in Nova\'s words', async (asked) => {
    const res = await get('/v2.1/os-availability-zone', { ...token, 'OpenStack-API-Version': `compute ${asked}` });
    expect(res.statusCode).toBe(406);
    expect(res.json).toEqual({
      computeFault: {
        code: 406, message: `Version ${asked} is not supported by the API. Minimum is 2.1 and maximum is 2.79.`,
      },
    });
    expect(res.headers?.['x-openstack-request-id']).toMatch(/^req-/);
    expect(res.headers?.vary).toBe('OpenStack-API-Version, X-OpenStack-Nova-API-Version');
  });

  it.each(['2', '2.01', 'two.one', '2.1.1'])('refuses the malformed %s with 400', async (asked) => {
    const res = await get('/v2.1/os-availability-zone', { ...token, 'X-OpenStack-Nova-API-Version': asked });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({
      badRequest: {
        code: 400, message: `API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`,
      },
    });
  });

  it('reads the headers as microversion-parse does', () => {
    expect(requestedVersion({})).toBeUndefined();
    expect(requestedVersion({ 'openstack-api-version': 'COMPUTE 2.3' })).toBe('2.3');
    expect(requestedVersion({ 'openstack-api-version': 'placement 1.2' })).toBeUndefined();
  });
});
