import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createApi } from '../../functions/api/app.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';
import { makeTable } from '../../functions/core/shared/table.js';

// Behind `-c api=http` (lib/httpApi.ts) the API function gets the HTTP API's payload format 1.0:
// the REST event's fields, from the $default route, with the stage in front of the path. The
// version document (no AWS request) is answered and its links carry the API's domain and stage.

const db = new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
afterAll(() => db.destroy());

it('serves the version document from an HTTP API event, links under the stage', async () => {
  const api = createApi(
    { table: makeTable('unused', db), queue: { send: async () => undefined }, claimLeaseMs: 60_000 },
    { identity: new NoauthIdentityProvider() },
  );
  const event = {
    version: '1.0', resource: '$default', path: '/compute/v2.1', httpMethod: 'GET',
    headers: { Host: 'evil.example', 'X-Auth-Token': 'alice:demo' }, multiValueHeaders: {}, queryStringParameters: null,
    multiValueQueryStringParameters: null, pathParameters: null, stageVariables: null, body: null, isBase64Encoded: false,
    requestContext: {
      apiId: 'abc123', domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', httpMethod: 'GET', path: '/compute/v2.1',
      protocol: 'HTTP/1.1', requestId: 'r', resourceId: '$default', resourcePath: '$default', stage: 'compute', identity: { sourceIp: '127.0.0.1' },
    },
  };
  const result = await api(event as never, { awsRequestId: 'r', functionName: 'api', getRemainingTimeInMillis: () => 20_000 } as never) as { statusCode: number; body: string };
  expect(result.statusCode).toBe(200);
  const { version } = JSON.parse(result.body);
  expect(version.links[0]).toEqual({ rel: 'self', href: 'https://abc123.execute-api.eu-west-1.amazonaws.com/compute/v2.1/' });
});
