import { SQSClient } from '@aws-sdk/client-sqs';
import { createApi } from '../../functions/api/app.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';

// Nova's conventions that need no backend: headers as API Gateway passes them (client's case),
// request ids on every answer, 401 without a token, Nova's error shapes from middy's own errors.

const api = createApi({
  // No backend, but an empty flavor partition: only the built-in flavors (functions/core/compute/flavors.ts).
    table: { db: { send: async () => ({ Items: [] }) } as never, name: 'unused' },
  queue: sqsOperationQueue(new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }), 'unused'),
  claimLeaseMs: 1000,
}, { identity: new NoauthIdentityProvider() });

async function call(method: string, path: string, headers: Record<string, string>, body?: string) {
  const req = { method, url: path, headers: {}, socket: { remoteAddress: '127.0.0.1' } };
  const event = proxyEvent(req as never, Buffer.from(body ?? ''));
  event.headers = headers; // as API Gateway sends them: the client's spelling
  event.multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
  // As API Gateway's own domain passes a request on stage prod: the stage before the path.
  event.requestContext.stage = 'prod';
  event.requestContext.domainName = 'api.example.com';
  event.requestContext.path = `/prod${event.path}`;
  return api(event as never, lambdaContext('api', 1000) as never);
}

it('reads headers whatever their case, and builds links from API Gateway\'s domain and stage, not the client\'s Host', async () => {
  const res = await call('GET', '/v2.1/flavors', { 'X-Auth-Token': 'alice:demo', Host: 'evil.example', 'X-Forwarded-Proto': 'javascript' });
  expect(res.statusCode).toBe(200);
  const flavors = JSON.parse(res.body).flavors;
  expect(flavors[0].links[0].href).toBe('https://api.example.com/prod/v2.1/flavors/1');
  expect(res.headers?.['x-openstack-request-id']).toMatch(/^req-[0-9a-f-]{36}$/);
  expect(res.headers?.['x-compute-request-id']).toBe(res.headers?.['x-openstack-request-id']);
});

it('answers 401 without a token, still with request ids', async () => {
  const res = await call('GET', '/v2.1/servers', { Host: 'h' });
  expect(res.statusCode).toBe(401);
  expect(JSON.parse(res.body).error.code).toBe(401);
  expect(res.headers?.['x-openstack-request-id']).toMatch(/^req-/);
});

it('turns an unknown route into Nova\'s itemNotFound and bad JSON into badRequest', async () => {
  const unknown = await call('GET', '/v2.1/nowhere', { 'X-Auth-Token': 'alice:demo' });
  expect(unknown.statusCode).toBe(404);
  expect(JSON.parse(unknown.body)).toEqual({ itemNotFound: { code: 404, message: 'The resource could not be found.' } });
  const bad = await call('POST', '/v2.1/servers', { 'X-Auth-Token': 'alice:demo' }, '{"server": [');
  expect(bad.statusCode).toBe(400);
  expect(JSON.parse(bad.body)).toEqual({ badRequest: { code: 400, message: 'Malformed request body' } });
  const invalid = await call('POST', '/v2.1/servers', { 'X-Auth-Token': 'alice:demo' }, '{"server": {"name": "x", "flavorRef": "1"}}');
  expect(invalid.statusCode).toBe(400);
  // Nova: imageRef may be absent only for a server booted from a volume.
  expect(JSON.parse(invalid.body).badRequest.message).toBe('Missing imageRef attribute');
  const wrong = await call('POST', '/v2.1/servers', { 'X-Auth-Token': 'alice:demo' },
    '{"server": {"name": "x", "flavorRef": "1", "imageRef": "not-a-uuid"}}');
  expect(JSON.parse(wrong.body).badRequest.message).toMatch(/^Invalid input for field\/attribute server\/imageRef\. Value: "not-a-uuid"\. /);
});
