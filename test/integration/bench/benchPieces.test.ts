import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { startHarness } from '../../../bench/harness.js';
import { History } from '../../../bench/history.js';
import { idempotencyPeer, lockItemPeer, naivePeer, type Peer } from '../../../bench/peers.js';
import { countRequests, kindOf, RequestCounter } from '../../../bench/requestCounter.js';
import { RequestTimeline } from '../../../bench/requestTimeline.js';
import { makeTable } from '../../../functions/core/shared/table.js';
import { CREDENTIALS, REGION } from '../../../local/emulators.js';
import { seedInstance, startBackends, type TestBackends } from '../../support/emulators.js';

/** A promise the test resolves by hand (a gate, not a timer). */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

// The benchmark's pieces, for correctness (never speed): the request counter counts what the SDK
// sends, and each peer really holds its lock while its work runs.

let backends: TestBackends;
beforeAll(async () => { backends = await startBackends(); });
afterAll(() => backends.stop());

describe('RequestCounter', () => {
  it('counts each request the SDK sends, by path and kind', async () => {
    const counter = new RequestCounter();
    const { emulators } = backends;
    const table = makeTable(emulators.tableName, countRequests(emulators.dynamodb, counter, 'p'));
    countRequests(emulators.sqs, counter, 'q');
    await table.db.send(new GetCommand({ TableName: table.name, Key: { pk: 'x', sk: 'y' } }));
    await emulators.dynamodb.send(new GetItemCommand({ TableName: table.name, Key: { pk: { S: 'x' }, sk: { S: 'y' } } }));
    await table.db.send(new GetCommand({ TableName: table.name, Key: { pk: 'x', sk: 'y' } }));
    await emulators.sqs.send(new SendMessageCommand({
      QueueUrl: emulators.queueUrl, MessageBody: '{}', MessageGroupId: 'g', MessageDeduplicationId: crypto.randomUUID(),
    }));
    expect(counter.take('p')).toEqual({ read: 3, write: 0, send: 0, receive: 0, delete: 0, other: 0 });
    expect(counter.take('q')).toMatchObject({ send: 1, read: 0 });
    expect(counter.take('p')).toMatchObject({ read: 0 }); // take resets
  });

  it('names kinds as the issue counts them', () => {
    expect(['UpdateItemCommand', 'Query', 'SendMessageCommand', 'ReceiveMessage', 'DeleteMessageBatch', 'ListQueues'].map(kindOf))
      .toEqual(['write', 'read', 'send', 'receive', 'delete', 'other']);
  });
});

describe('RequestTimeline', () => {
  it('times each request while recording, a failed condition marked failed, and nothing otherwise', async () => {
    const timeline = new RequestTimeline();
    const { emulators } = backends;
    const client = timeline.time(new DynamoDBClient({ endpoint: emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS }), 'p');
    const table = makeTable(emulators.tableName, client);
    const key = { pk: `TIMED#${crypto.randomUUID()}`, sk: 'X' };
    const put = () => table.db.send(new PutCommand({ TableName: table.name, Item: key, ConditionExpression: 'attribute_not_exists(pk)' }));
    await table.db.send(new GetCommand({ TableName: table.name, Key: key }));
    timeline.recording = true;
    await put();
    await expect(put()).rejects.toThrow();
    timeline.recording = false;
    await table.db.send(new GetCommand({ TableName: table.name, Key: key }));
    client.destroy();
    expect(timeline.requests.map(({ path, operation, failed }) => ({ path, operation, failed }))).toEqual([
      { path: 'p', operation: 'PutItem', failed: false },
      { path: 'p', operation: 'PutItem', failed: true },
    ]);
    for (const r of timeline.requests) expect(r.end).toBeGreaterThanOrEqual(r.start);
    expect(timeline.requests[1]!.start).toBeGreaterThanOrEqual(timeline.requests[0]!.end);
  });
});

describe('each peer takes its lock', () => {
  const peers: [string, (history: History) => Peer][] = [
    ['naive', (h) => naivePeer(backends.table, h, 0)],
    ['lock item', (h) => lockItemPeer(backends.table, h, 0)],
    ['idempotency', (h) => idempotencyPeer(backends.table, h, 0)],
  ];

  it.each(peers)('%s: a request on the same instance while the work runs is refused, and admitted after', async (_name, make) => {
    const history = new History();
    const peer = make(history);
    const instanceId = crypto.randomUUID();
    // Hold the first request inside its work: History.record is the work's wrapper.
    const gate = deferred();
    const entered = deferred();
    const record = history.record.bind(history);
    let holding = true;
    history.record = async (id, op, work) => {
      if (holding) { holding = false; return record(id, op, async () => { entered.resolve(); await gate.promise; return work(); }); }
      return record(id, op, work);
    };
    const first = peer.attempt({ instanceId, op: 'reboot', requestId: 'r1' });
    await entered.promise;
    expect(await peer.attempt({ instanceId, op: 'reboot', requestId: 'r2' })).toBe('refused');
    gate.resolve();
    expect(await first).toBe('accepted');
    expect(history.intervals.map((i) => i.opId)).toEqual(['r1']);
  });

  it('lock item: the lock is an item that exists exactly while the work runs', async () => {
    const history = new History();
    const peer = lockItemPeer(backends.table, history, 0);
    const instanceId = crypto.randomUUID();
    let seen: unknown;
    history.record = async (id, op, work) => {
      seen = (await backends.table.db.send(new GetCommand({ TableName: backends.table.name, Key: { pk: `LOCK#${id}`, sk: 'LOCK' } }))).Item;
      return work();
    };
    expect(await peer.attempt({ instanceId, op: 'reboot', requestId: 'r1' })).toBe('accepted');
    expect(seen).toMatchObject({ owner: expect.any(String) });
    const after = await backends.table.db.send(new GetCommand({ TableName: backends.table.name, Key: { pk: `LOCK#${instanceId}`, sk: 'LOCK' } }));
    expect(after.Item).toBeUndefined();
  });
});

describe('the harness', () => {
  it('with the emulators on a worker thread, an admission is answered and its operation runs', async () => {
    const h = await startHarness({ workMs: 0, emulatorThread: true });
    try {
      expect(h.emulatorThreadId).toBeGreaterThan(0);
      const { id } = await seedInstance(h.table('setup'), { projectId: 'bench', userId: 'bench' });
      expect((await h.api('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } })).statusCode).toBe(202);
      expect(await h.drain()).toBe(1);
      expect(h.history.intervals.map((i) => i.instanceId)).toEqual([id]);
      expect(JSON.parse((await h.api('GET', `/servers/${id}`)).body).server['OS-EXT-STS:task_state']).toBeNull();
    } finally {
      await h.stop();
    }
  });
});
