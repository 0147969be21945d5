import { createHash, randomUUID } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, type Table } from '../functions/core/shared/table.js';
import type { History } from './history.js';

// The ways others guard an instance operation, on the same table and the same workload. Each
// tries one request: 'accepted' when it ran the work, 'refused' when its guard said no, and
// (Powertools only) 'replayed' when a stored result was returned without running.
//
// - naive: Nova before the blueprint: read the instance, check task_state, then write it
//   (test/support/preBlueprintNova.ts's read-check-then-act): the gap between read and write
//   lets two requests through.
// - lockItem: a lock item per instance, as dynamodb-lock-client does: conditional PutItem
//   (absent or lease expired), the work, DeleteItem conditioned on the owner.
// - idempotency: Powertools for AWS Lambda's idempotency: a record keyed by a hash of the
//   payload, PutItem INPROGRESS if absent or expired, the work, UpdateItem COMPLETED with the
//   result. It dedupes a repeated request; it was never meant to exclude different ones.

export type Attempt = 'accepted' | 'refused' | 'replayed';

export interface PeerRequest {
  readonly instanceId: string;
  readonly op: string;
  readonly requestId: string;
}

export interface Peer {
  readonly name: string;
  attempt(req: PeerRequest): Promise<Attempt>;
}

const work = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function naivePeer(table: Table, history: History, workMs: number): Peer {
  const key = (id: string) => ({ pk: `NAIVE#${id}`, sk: 'META' });
  return {
    name: 'naive read-check-then-write',
    async attempt(req) {
      const out = await table.db.send(new GetCommand({ TableName: table.name, Key: key(req.instanceId), ConsistentRead: true }));
      if (out.Item?.taskState) return 'refused';
      await table.db.send(new PutCommand({ TableName: table.name, Item: { ...key(req.instanceId), taskState: req.op, request: req.requestId } }));
      await history.record(req.instanceId, req.requestId, () => work(workMs));
      await table.db.send(new PutCommand({ TableName: table.name, Item: key(req.instanceId) }));
      return 'accepted';
    },
  };
}

export function lockItemPeer(table: Table, history: History, workMs: number, leaseMs = 10_000): Peer {
  const key = (id: string) => ({ pk: `LOCK#${id}`, sk: 'LOCK' });
  return {
    name: 'lock item (dynamodb-lock-client)',
    async attempt(req) {
      const owner = randomUUID();
      const now = Date.now();
      try {
        await table.db.send(new PutCommand({
          TableName: table.name, Item: { ...key(req.instanceId), owner, leaseUntil: now + leaseMs },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': now },
        }));
      } catch (err) {
        if (isConditionFailure(err)) return 'refused';
        throw err;
      }
      try {
        await history.record(req.instanceId, req.requestId, () => work(workMs));
      } finally {
        await table.db.send(new DeleteCommand({
          TableName: table.name, Key: key(req.instanceId),
          ConditionExpression: '#owner = :owner', ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        })).catch((err) => { if (!isConditionFailure(err)) throw err; });
      }
      return 'accepted';
    },
  };
}

export function idempotencyPeer(table: Table, history: History, workMs: number, expiresAfterS = 3600): Peer {
  const key = (req: PeerRequest) => ({
    pk: `IDEMPOTENCY#${createHash('md5').update(JSON.stringify({ instance: req.instanceId, op: req.op })).digest('hex')}`, sk: 'RECORD',
  });
  return {
    name: 'idempotency (Powertools)',
    async attempt(req) {
      const now = Date.now();
      try {
        await table.db.send(new PutCommand({
          TableName: table.name,
          Item: { ...key(req), status: 'INPROGRESS', expiration: Math.floor(now / 1000) + expiresAfterS, inProgressExpiry: now + 60_000 },
          ConditionExpression: 'attribute_not_exists(pk) OR expiration < :nowS OR (#status = :inprogress AND inProgressExpiry < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':nowS': Math.floor(now / 1000), ':now': now, ':inprogress': 'INPROGRESS' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }));
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        // Powertools: a COMPLETED record's result is returned; an INPROGRESS one raises.
        const status = (err as { Item?: { status?: { S?: string } } }).Item?.status?.S;
        if (status === 'COMPLETED') return 'replayed';
        if (status === 'INPROGRESS') return 'refused';
        const current = await table.db.send(new GetCommand({ TableName: table.name, Key: key(req), ConsistentRead: true }));
        return current.Item?.status === 'COMPLETED' ? 'replayed' : 'refused';
      }
      await history.record(req.instanceId, req.requestId, () => work(workMs));
      await table.db.send(new UpdateCommand({
        TableName: table.name, Key: key(req), UpdateExpression: 'SET #status = :done, #data = :data',
        ExpressionAttributeNames: { '#status': 'status', '#data': 'data' },
        ExpressionAttributeValues: { ':done': 'COMPLETED', ':data': JSON.stringify({ ok: true }) },
      }));
      return 'accepted';
    },
  };
}
