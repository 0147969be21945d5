import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { claimInstance } from '../../functions/core/compute/claimInstance.js';
import { Conflict } from '../../functions/core/shared/errors.js';
import { makeTable } from '../../functions/core/shared/table.js';

// DynamoDB (and the embedded emulators) return the old item with a failed conditional write; a
// backend that does not (LocalStack's older versions, an unpatched dynalite) cannot be made to
// answer like that over HTTP here, so this is the one path a mock stands in for: the refusal then
// reads the item once, and names the same state.

const dynamo = mockClient(DynamoDBDocumentClient);
afterAll(() => dynamo.restore());

const conditionFailed = (item?: Record<string, unknown>) =>
  Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', ...(item ? { Item: item } : {}) });

const id = '0c9e0000-1111-4222-8333-444455556666';
const busy = {
  pk: `INSTANCE#${id}`, sk: 'META', id, projectId: 'demo', userId: 'alice', vmState: 'active', taskState: 'rebooting',
  locked: false, version: 3, volumes: {}, ports: {},
};
const caller = { userId: 'alice', projectId: 'demo', roles: ['member', 'reader'], isAdmin: false };
const claim = () => claimInstance(makeTable('t', new DynamoDBClient({ region: 'us-east-1' })), {
  instanceId: id, op: 'stop', caller, requestId: 'req-1', now: 1_000, leaseMs: 1_000,
});

beforeEach(() => dynamo.reset());

it('reads the item once when the failed write brings no old item, and names the blocking task_state', async () => {
  dynamo.on(UpdateCommand).rejects(conditionFailed());
  dynamo.on(GetCommand).resolves({ Item: busy });
  const refusal = await claim().catch((err: unknown) => err);
  expect(refusal).toBeInstanceOf(Conflict);
  expect((refusal as Error).message).toBe(`Cannot 'stop' instance ${id} while it is in task_state rebooting`);
  expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(1);
  expect(dynamo.commandCalls(GetCommand)).toHaveLength(1);
  expect(dynamo.commandCalls(GetCommand)[0]!.args[0].input).toMatchObject({ Key: { pk: `INSTANCE#${id}`, sk: 'META' }, ConsistentRead: true });
});

it('reads nothing when the failed write brings the old item', async () => {
  const { marshall } = await import('@aws-sdk/util-dynamodb');
  dynamo.on(UpdateCommand).rejects(conditionFailed(marshall(busy)));
  const refusal = await claim().catch((err: unknown) => err);
  expect((refusal as Error).message).toBe(`Cannot 'stop' instance ${id} while it is in task_state rebooting`);
  expect(dynamo.commandCalls(GetCommand)).toHaveLength(0);
});
