import { jest } from '@jest/globals';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Server } from 'node:http';
import { GATEWAY_RESPONSES } from '../../functions/authorizer/gatewayResponses.js';
import { UNAUTHORIZED } from '../../functions/authorizer/authorize.js';
import { serveApi, MAX_PAYLOAD_BYTES, type ProxyHandler } from '../../local/apiGateway.js';
import type { LocalAuthorizer } from '../../local/authorizer.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE } from '../support/nova.js';
import { rawRequest } from '../support/rawHttp.js';

// What the local runtime answers in API Gateway's place is Nova's error shape, the very body the
// stack installs as API Gateway's gateway responses (test/infra/gatewayResponses.test.ts).

let runtime: Runtime;
beforeAll(async () => {
  runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
});
afterAll(async () => {
  await runtime?.stop();
});

async function tableItems(): Promise<unknown[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await runtime.table.db.send(new ScanCommand({ TableName: runtime.table.name, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

it('a body over API Gateway\'s 10 MB is 413 in Nova\'s overLimit shape, never reaches the function, and nothing is written', async () => {
  const before = await tableItems();
  const body = JSON.stringify({ server: { name: 'big', flavorRef: '1', imageRef: IMAGE, user_data: 'x'.repeat(11 * 1024 * 1024) } });
  expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_PAYLOAD_BYTES);
  const res = await rawRequest(runtime.apiUrl, 'POST', '/v2.1/servers', { 'x-auth-token': 'alice:demo', 'content-type': 'application/json' }, body);
  expect(res.status).toBe(413);
  expect(res.headers['content-type']).toBe('application/json');
  expect(res.body).toEqual({ overLimit: { code: 413, message: 'Request is too large.' } });
  expect(res.body).toEqual(GATEWAY_RESPONSES.REQUEST_TOO_LARGE.body);
  // The API function stamps every answer with Nova's request id: this one is API Gateway's.
  expect(res.headers['x-openstack-request-id']).toBeUndefined();
  expect(await tableItems()).toEqual(before);
  expect((await rawRequest(runtime.apiUrl, 'GET', '/v2.1/servers', { 'x-auth-token': 'alice:demo' })).body.servers).toEqual([]);
});

describe('the authorizer\'s refusals and the function\'s failure', () => {
  let server: Server;
  let url: string;
  let calls = 0;
  const answers: Record<string, () => ReturnType<LocalAuthorizer>> = {
    deny: async () => ({ principalId: 'u', policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: '*' }] } }),
    unauthorized: async () => { throw new Error(UNAUTHORIZED); },
    broken: async () => { throw new Error('identity service down'); },
    allow: async () => ({ principalId: 'u', policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] } }),
  };
  beforeAll(async () => {
    // The local front logs what failed, as API Gateway's execution log would: expected here.
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const authorizer: LocalAuthorizer = (event) => answers[String(event.headers?.['x-auth-token'])]!();
    const failing: ProxyHandler = async () => {
      calls += 1;
      throw new Error('the function failed');
    };
    ({ server, url } = await serveApi(failing, 0, '127.0.0.1', authorizer));
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await new Promise((resolve) => server?.close(resolve));
  });

  it.each([
    ['deny', 'ACCESS_DENIED', 403, { forbidden: { code: 403, message: 'Access was denied to this resource.' } }],
    ['unauthorized', 'UNAUTHORIZED', 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }],
    ['broken', 'AUTHORIZER_FAILURE', 503, { serviceUnavailable: { code: 503, message: expect.any(String) } }],
  ] as const)('a token the authorizer answers %s for: %s, %d, in Nova\'s words, without calling the function', async (token, type, status, body) => {
    const res = await rawRequest(url, 'GET', '/v2.1/servers', { 'x-auth-token': token });
    expect([res.status, res.body]).toEqual([status, body]);
    expect(res.body).toEqual(GATEWAY_RESPONSES[type].body);
    expect(calls).toBe(0);
  });

  it('a function that fails: 502 (DEFAULT_5XX) in Nova\'s computeFault shape', async () => {
    const res = await rawRequest(url, 'GET', '/v2.1/servers', { 'x-auth-token': 'allow' });
    expect(calls).toBe(1);
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ computeFault: { code: 502, message: expect.stringMatching(/^Unexpected API Error\./) } });
    expect(res.body).toEqual(GATEWAY_RESPONSES.DEFAULT_5XX.body);
  });
});
