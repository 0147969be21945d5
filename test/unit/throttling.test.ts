import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createApi } from '../../functions/api/app.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { makeTable } from '../../functions/core/shared/table.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';

// Throttling is an answer no emulator gives: the one place for a mocked AWS client. A throttled
// claim must reach the client as a retryable 503 in Nova's shape, never as a 500.

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
afterAll(() => { dynamo.restore(); sqs.restore(); });

const throttled = (name: string) => Object.assign(new Error('Rate exceeded'), { name, $retryable: { throttling: true } });

function request(method: string, path: string, body?: unknown) {
  const req = { method, url: path, headers: { host: 'unit', 'x-auth-token': 'alice:demo' }, socket: { remoteAddress: '127.0.0.1' } };
  return proxyEvent(req as never, Buffer.from(body === undefined ? '' : JSON.stringify(body)));
}

it.each(['ProvisionedThroughputExceededException', 'ThrottlingException'])(
  'answers a throttled claim (%s) with 503 serviceUnavailable and Retry-After, queueing nothing',
  async (name) => {
    dynamo.reset();
    sqs.reset();
    dynamo.on(UpdateCommand).rejects(throttled(name));
    const api = createApi({
      table: makeTable('t', new DynamoDBClient({ region: 'us-east-1' })),
      queue: sqsOperationQueue(new SQSClient({ region: 'us-east-1' }), 'https://queue'),
      claimLeaseMs: 1000,
    }, { identity: new NoauthIdentityProvider() });
    const res = await api(request('POST', '/v2.1/servers/0c9e0000-1111-4222-8333-444455556666/action', { 'os-stop': null }) as never, lambdaContext('api', 1000) as never);
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(res.body)).toEqual({
      serviceUnavailable: { code: 503, message: 'The service is busy; nothing was changed. Please retry.' },
    });
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });
