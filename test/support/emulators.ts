import type { DriverCapabilities } from '../../functions/core/compute/driver.js';
import { timings, type Timings } from '../../functions/core/shared/config.js';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import type { ComputeDriver, OperationContext } from '../../functions/core/compute/driver.js';
import type { Caller, Instance } from '../../functions/core/compute/instance.js';
import type { OperationMessage, OperationQueue } from '../../functions/core/compute/queue.js';
import { PowerState, type VmState } from '../../functions/core/compute/states.js';
import {
  isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, makeTable, serverShardOf, type Table,
} from '../../functions/core/shared/table.js';
import { createApi } from '../../functions/api/app.js';
import { markAttached, reserve, Volumes, writeAttachmentUnfenced, type AttachableKind } from '../../functions/core/shared/attachables.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { serveApi, type ProxyHandler } from '../../local/apiGateway.js';
import { startEmulators, type Emulators } from '../../local/emulators.js';
import { LOCAL_PUBLIC_URL } from '../../local/runtime.js';
import { Nova } from './nova.js';
import { seedPort } from './networks.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';
import { seedVolume } from './volumes.js';

// Real emulators for integration tests: dynalite (or DynamoDB Local, when CI sets
// TASKGATE_DYNAMODB_ENDPOINT) and fauxqs, both over HTTP.

export interface TestBackends {
  readonly emulators: Emulators;
  readonly table: Table;
  stop(): Promise<void>;
}

/** Fresh in-memory backends; the queue has the given durations (default: the deployed ones). */
export async function startBackends(t: Timings = timings()): Promise<TestBackends> {
  const emulators = await startEmulators({
    dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
    visibilityTimeoutSeconds: t.visibilityTimeoutSeconds, maxReceiveCount: t.maxReceiveCount,
  });
  return { emulators, table: makeTable(emulators.tableName, emulators.dynamodb), stop: () => emulators.stop() };
}

export const alice: Caller = { userId: 'alice', projectId: 'demo', roles: ['member', 'reader'], isAdmin: false };
export const mallory: Caller = { userId: 'mallory', projectId: 'other', roles: ['member', 'reader'], isAdmin: false };
export const admin: Caller = { userId: 'admin', projectId: 'admin', roles: ['admin', 'member', 'reader'], isAdmin: true };

let counter = 0;
export const uuid = () => crypto.randomUUID();
export const requestId = () => `req-${crypto.randomUUID()}-${++counter}`.slice(0, 40);

/** An idle instance written straight to the table, in any vm_state. */
export async function seedInstance(table: Table, fields: Partial<Instance> & { vmState?: VmState } = {}): Promise<Instance> {
  const id = fields.id ?? uuid();
  const created = new Date().toISOString();
  const instance: Instance = {
    id, projectId: alice.projectId, userId: alice.userId, name: `seed-${id.slice(0, 8)}`, vmState: 'active',
    powerState: PowerState.RUNNING, flavorId: '1', imageId: uuid(), locked: false, version: 1,
    created, updated: created, volumes: {}, ports: {}, ...fields,
  };
  await table.db.send(new PutCommand({
    TableName: table.name,
    Item: {
      ...keys.instance(id), ...instance, gsi1pk: `PROJECT#${instance.projectId}`, gsi1sk: `${created}#${id}`,
      gsi2pk: serverShardOf(id), gsi2sk: `${created}#${id}`,
      ...(instance.taskState ? { leaseShard: leaseShardOf(id) } : {}),
    },
  }));
  return instance;
}

/** An operation queue that keeps what it is given, so a test decides when and how often it is delivered. */
export class CapturingQueue implements OperationQueue {
  readonly messages: OperationMessage[] = [];
  failNext = false;
  async send(message: OperationMessage) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('simulated SendMessage failure');
    }
    this.messages.push(message);
  }
  take(): OperationMessage {
    const m = this.messages.shift();
    if (!m) throw new Error('no message queued');
    return m;
  }
}

/** Wraps a driver to count how many times each operation really ran. */
export function countingDriver(inner: ComputeDriver): { driver: ComputeDriver; runs: Map<OperationName, number> } {
  const runs = new Map<OperationName, number>();
  const driver = Object.fromEntries(
    (Object.keys(inner) as OperationName[]).map((op) => [op, async (ctx: OperationContext) => {
      runs.set(op, (runs.get(op) ?? 0) + 1);
      return inner[op](ctx);
    }]),
  ) as unknown as ComputeDriver;
  return { driver, runs };
}

/** A volume or port attached to `instanceId`, as a finished attach leaves it. */
export async function seedAttachment(
  table: Table, kind: AttachableKind, instanceId: string, given?: string, projectId = alice.projectId,
): Promise<string> {
  // A volume is Cinder's: made first, as a client makes it before asking Nova to attach it.
  const id = given ?? (kind === Volumes ? await seedVolume(table, { projectId }) : await seedPort(table, projectId));
  const requestId = `seed-${id}`.slice(0, 40);
  await reserve(table, kind, { id, instanceId, projectId, requestId, now: Date.now(), leaseMs: 60_000 });
  await writeAttachmentUnfenced(table, kind, {
    id, instanceId, requestId, created: new Date().toISOString(),
    ...(kind === Volumes ? { device: '/dev/vdb' } : { macAddress: 'fa:16:3e:00:00:01', netId: uuid(), fixedIp: '10.0.0.5' }),
  });
  await markAttached(table, kind, { id, instanceId, requestId });
  return id;
}

export interface ApiOnly extends TestBackends {
  readonly nova: Nova;
}

/**
 * The API Lambda behind the local API Gateway front, on real dynalite and fauxqs (or the queue
 * given), with no worker: what is accepted stays queued and claimed until the test runs it.
 */
export async function startApiOnly(queue?: OperationQueue, capabilities?: DriverCapabilities): Promise<ApiOnly> {
  const backends = await startBackends();
  const { emulators, table } = backends;
  const api = createApi({
    table, queue: queue ?? sqsOperationQueue(emulators.sqs, emulators.queueUrl), claimLeaseMs: 15 * 60_000,
    ...(capabilities ? { capabilities } : {}),
  }, { links: { publicUrl: LOCAL_PUBLIC_URL }, identity: new NoauthIdentityProvider() });
  const { server, url } = await serveApi(api as unknown as ProxyHandler, 0);
  return {
    ...backends,
    nova: new Nova(`${url}/v2.1`),
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await backends.stop();
    },
  };
}

/**
 * A conditional write that cannot succeed, on a fresh item: the item as written, and what the
 * failure brought back (`ask`: with ReturnValuesOnConditionCheckFailure ALL_OLD, as admission asks).
 */
export async function failedConditionalWrite(table: Table, ask: boolean) {
  const item = { pk: `PROBE#${crypto.randomUUID()}`, sk: 'META', state: 'held' };
  await table.db.send(new PutCommand({ TableName: table.name, Item: item }));
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: { pk: item.pk, sk: item.sk }, UpdateExpression: 'SET #s = :s', ConditionExpression: 'attribute_not_exists(pk)',
      ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':s': 'taken' },
      ...(ask ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    return { item, returned: itemFromConditionFailure<Record<string, unknown>>(err) };
  }
  throw new Error('the probe write met a condition it cannot meet');
}
