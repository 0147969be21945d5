import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CapacityMeter, writeUnitsOf } from '../../../bench/capacityMeter.js';
import { isConditionFailure, makeTable, TABLE_DEFINITION, type Table } from '../../../functions/core/shared/table.js';
import { CREDENTIALS, REGION } from '../../../local/emulators.js';
import { startBackends, type TestBackends } from '../../support/emulators.js';

// The bench's meter against the emulator (dynalite, or DynamoDB Local under
// scripts/with-dynamodb-local.sh): for each item shape, the table units it computes from AWS's
// rules are the ones the emulator reports; where the emulator reports index units (DynamoDB Local
// does, dynalite does not), those too.

let backends: TestBackends;
let meter: CapacityMeter;
let table: Table;
let images: DynamoDBClient;
beforeAll(async () => {
  backends = await startBackends();
  const client = () => new DynamoDBClient({ endpoint: backends.emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS });
  images = client();
  meter = new CapacityMeter(TABLE_DEFINITION, images);
  table = makeTable(backends.table.name, meter.meterDynamoDB(client(), 'p'));
  meter.measuring = true;
});
afterAll(async () => {
  table.db.destroy();
  images.destroy();
  await backends.stop();
});

const server = (id: string, extra: Record<string, unknown> = {}) => ({
  pk: `INSTANCE#${id}`, sk: 'META', name: 'vm', gsi1pk: 'PROJECT#p', gsi1sk: `2026#${id}`, gsi2pk: 'SERVERS#1', gsi2sk: `2026#${id}`,
  version: 1, volumes: { v1: { device: '/dev/vdb', tag: null } }, faults: ['a', 'b'], ...extra,
});

describe.each([
  ['small', ''],
  ['just over 1 KB', 'x'.repeat(1000)],
  ['about 2.5 KB', 'y'.repeat(2500)],
])('a server, %s', (_shape, pad) => {
  it('put, update (attribute, then lease key), refused update, delete: the meter\'s table units are the emulator\'s', async () => {
    const id = crypto.randomUUID();
    const key = { pk: `INSTANCE#${id}`, sk: 'META' };
    meter.take('p');
    await table.db.send(new PutCommand({ TableName: table.name, Item: server(id, { pad }) }));
    await table.db.send(new UpdateCommand({ TableName: table.name, Key: key, UpdateExpression: 'SET #n = :n ADD version :one', ExpressionAttributeNames: { '#n': 'name' }, ExpressionAttributeValues: { ':n': 'renamed', ':one': 1 } }));
    await table.db.send(new UpdateCommand({ TableName: table.name, Key: key, UpdateExpression: 'SET leaseShard = :s, leaseUntil = :u', ExpressionAttributeValues: { ':s': 'LEASE#1', ':u': 100 } }));
    await table.db.send(new UpdateCommand({ TableName: table.name, Key: key, UpdateExpression: 'SET leaseUntil = :u', ExpressionAttributeValues: { ':u': 200 } }));
    const refused = await table.db.send(new UpdateCommand({ TableName: table.name, Key: key, UpdateExpression: 'SET version = :v', ConditionExpression: 'version = :old', ExpressionAttributeValues: { ':v': 9, ':old': 0 } })).catch((e) => e);
    expect(isConditionFailure(refused)).toBe(true);
    await table.db.send(new GetCommand({ TableName: table.name, Key: key, ConsistentRead: true }));
    await table.db.send(new DeleteCommand({ TableName: table.name, Key: key }));
    const bill = meter.take('p');
    expect(bill.writes).toBe(6);
    expect(bill.calculatedTableWriteUnits).toBe(bill.emulatorTableWriteUnits);
    // The list indexes are written by the put, the rename, the two lease writes (ALL copies every
    // attribute) and the delete; the lease index by its put, its key's move (delete + put) and the delete.
    expect(Object.keys(bill.indexWriteUnits).sort()).toEqual(['allServers', 'byLease', 'byProject']);
    expect(bill.indexWriteUnits.byLease).toBe(4);
    expect(bill.indexWriteUnits.byProject).toBe(bill.indexWriteUnits.allServers);
    // DynamoDB Local reports index units, and they are the meter's; dynalite reports none.
    expect(bill.emulatorIndexWriteUnits).toBe(process.env.TASKGATE_DYNAMODB_ENDPOINT ? writeUnitsOf(bill) - bill.tableWriteUnits : 0);
    expect(bill.readUnits).toBe(1);
  });
});

it('asks for the capacity only while measuring, and leaves a request untouched otherwise', async () => {
  meter.measuring = false;
  const out = await table.db.send(new PutCommand({ TableName: table.name, Item: { pk: 'X', sk: 'Y' } }));
  meter.measuring = true;
  expect(out.ConsumedCapacity).toBeUndefined();
  expect(meter.take('p').writes).toBe(0);
});

it('counts an SQS send in 64 KB chunks', async () => {
  const sqs = meter.meterSqs(backends.emulators.sqs, 'q');
  await sqs.send(new SendMessageCommand({ QueueUrl: backends.emulators.queueUrl, MessageBody: 'x'.repeat(70_000), MessageGroupId: 'g', MessageDeduplicationId: crypto.randomUUID() }));
  expect(meter.take('q').sqsRequests).toBe(2);
});
