import { PurgeQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { timings } from '../../functions/core/shared/config.js';
import { failedConditionalWrite, startBackends, type TestBackends } from '../support/emulators.js';

// The places where the embedded emulators are patched to answer as AWS does (patches/, applied
// by patch-package on npm ci). Each test fails on the unpatched emulator.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends({ ...timings(), visibilityTimeoutSeconds: 30 }); });
afterAll(() => backends.stop());

it('a failed conditional write returns the old item when asked (ReturnValuesOnConditionCheckFailure), and only then', async () => {
  const asked = await failedConditionalWrite(backends.table, true);
  expect(asked.returned).toEqual(asked.item);
  expect((await failedConditionalWrite(backends.table, false)).returned).toBeUndefined();
});

// dynalite had no TransactWriteItems; the patch serves ConditionCheck, Put, Update and Delete members.
it('a transaction writes all of its items or none: a failed ConditionCheck cancels the Put, with each member\'s reason', async () => {
  const { db, name } = backends.table;
  const id = crypto.randomUUID();
  await db.send(new PutCommand({ TableName: name, Item: { pk: `FIDELITY#${id}`, sk: 'CHECKED', version: 5 } }));
  const written = { pk: `FIDELITY#${id}`, sk: 'WRITTEN' };
  const transact = (version: number) => db.send(new TransactWriteCommand({ TransactItems: [
    { ConditionCheck: {
      TableName: name, Key: { pk: `FIDELITY#${id}`, sk: 'CHECKED' }, ConditionExpression: '#v = :v',
      ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': version },
    } },
    { Put: { TableName: name, Item: { ...written, version }, ConditionExpression: 'attribute_not_exists(pk)' } },
  ] }));
  await expect(transact(4)).rejects.toMatchObject({
    name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
  });
  expect((await db.send(new GetCommand({ TableName: name, Key: written }))).Item).toBeUndefined();
  await transact(5);
  expect((await db.send(new GetCommand({ TableName: name, Key: written }))).Item).toEqual({ ...written, version: 5 });
  await expect(transact(5)).rejects.toMatchObject({ CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }] });
});

it('a transaction\'s Update is applied as UpdateItem applies it, conditioned and all or nothing (the quota charge\'s shape)', async () => {
  const { db, name } = backends.table;
  const id = crypto.randomUUID();
  const counters = { pk: `FIDELITY#${id}`, sk: 'COUNTERS' };
  await db.send(new PutCommand({ TableName: name, Item: { ...counters, n: 1 } }));
  const charge = (sk: string, max: number) => db.send(new TransactWriteCommand({ TransactItems: [
    { Update: {
      TableName: name, Key: counters, ConditionExpression: '#n <= :max', UpdateExpression: 'ADD #n :one SET #last = :sk',
      ExpressionAttributeNames: { '#n': 'n', '#last': 'last' }, ExpressionAttributeValues: { ':max': max, ':one': 1, ':sk': sk },
    } },
    { Put: { TableName: name, Item: { pk: counters.pk, sk }, ConditionExpression: 'attribute_not_exists(pk)' } },
  ] }));
  await charge('A', 1);
  expect((await db.send(new GetCommand({ TableName: name, Key: counters }))).Item).toEqual({ ...counters, n: 2, last: 'A' });
  await expect(charge('B', 1)).rejects.toMatchObject({ CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }] });
  await expect(charge('A', 5)).rejects.toMatchObject({ CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }] });
  expect((await db.send(new GetCommand({ TableName: name, Key: counters }))).Item).toEqual({ ...counters, n: 2, last: 'A' });
  expect((await db.send(new GetCommand({ TableName: name, Key: { pk: counters.pk, sk: 'B' } }))).Item).toBeUndefined();
});

it('a long poll answers when a message is there for it, not empty when another poller took the one that woke it', async () => {
  const { sqs, queueUrl } = backends.emulators;
  await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
  const poll = () => sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }))
    .then((out) => (out.Messages ?? []).map((m) => m.Body));
  const send = (body: string, group: string) => sqs.send(new SendMessageCommand({
    QueueUrl: queueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: crypto.randomUUID(),
  }));
  const answers = Promise.all([poll(), poll()]);
  // Both polls are waiting (a receive on an empty queue only answers on a message or its wait's end).
  await new Promise((r) => setTimeout(r, 200));
  await send('one', 'a');
  // Both polls were woken; the one that found nothing must wait on, and take the next message.
  await send('two', 'b');
  expect((await answers).flat().sort()).toEqual(['one', 'two']);
});
