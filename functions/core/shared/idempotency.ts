import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, itemFromConditionFailure, type Table } from './table.js';

// Idempotency keys (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): the first
// request with a key takes a record (INPROGRESS, with an expiry in case it dies), runs, and
// stores its answer (COMPLETED, kept for a TTL); a retry with the same key and payload gets that
// answer back, one with another payload is refused, one that arrives while the first still runs
// is told so. The life cycle is Powertools for AWS Lambda's (packages/idempotency): one
// conditional put that also takes over an expired record, the old record returned with the
// failure instead of a second read, a payload hash to tell a retry from a misuse.

export type IdempotencyStatus = 'INPROGRESS' | 'COMPLETED';

/** Who may see a key's answer: keys are scoped by project and user, never global. */
export interface IdempotencyScope {
  readonly projectId: string;
  readonly userId: string;
  readonly key: string;
}

export interface IdempotencyRecord<A> {
  readonly status: IdempotencyStatus;
  /** Hash of what was asked (method, path, body): a retry must match it. */
  readonly fingerprint: string;
  /** The invocation that holds the key now: only it may complete or release it. */
  readonly owner: string;
  /**
   * The request id the key's work is done under: the first request's, kept when a retry takes
   * over from a request that died (records of the previous version have only `owner`, which was
   * that id). Everything the work creates is named from it, so a retry finds what the first did.
   */
  readonly requestId?: string;
  /** Epoch ms after which an INPROGRESS record counts as abandoned. */
  readonly inProgressUntil: number;
  /** Epoch seconds: DynamoDB's TTL attribute; also checked on read, as TTL deletes lazily. */
  readonly expiresAt: number;
  readonly answer?: A;
}

/** What taking a key found. */
export type Acquired<A> =
  /**
   * The key is ours: run the request as `requestId`. `resumed` when the key was taken over from
   * a request that died holding it: its work may already have been admitted, under that same id.
   */
  | { readonly kind: 'acquired'; readonly requestId: string; readonly resumed: boolean }
  | { readonly kind: 'replay'; readonly answer: A }
  | { readonly kind: 'inProgress' }
  | { readonly kind: 'mismatch' };

/** The persistence behind the Idempotency-Key layer; one DynamoDB item per scoped key. */
export interface IdempotencyStore<A> {
  acquire(scope: IdempotencyScope, req: { fingerprint: string; owner: string; requestId: string; now: number }): Promise<Acquired<A>>;
  /** Keep the answer for retries. A no-op if the key was taken over meanwhile. */
  complete(scope: IdempotencyScope, req: { owner: string; answer: A; now: number }): Promise<void>;
  /** Give the key up (the request changed nothing, e.g. a 5xx): a retry runs again. */
  release(scope: IdempotencyScope, owner: string): Promise<void>;
}

export interface IdempotencyTimes {
  readonly ttlSeconds: number;
  readonly inProgressSeconds: number;
}

export const idempotencyKeyOf = (scope: IdempotencyScope) => ({
  pk: `IDEMPOTENCY#${createHash('sha256').update(`${scope.projectId}\0${scope.userId}\0${scope.key}`).digest('hex')}`,
  sk: 'META',
});

/** A stable hash of a payload: JSON bodies compare by value, not by spelling. */
export function fingerprintOf(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts.map(canonical))).digest('hex');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

const ACQUIRE_ATTEMPTS = 3;

export function dynamoIdempotencyStore<A>(table: Table, times: IdempotencyTimes): IdempotencyStore<A> {
  const names = { '#pk': 'pk', '#status': 'status', '#until': 'inProgressUntil', '#expires': 'expiresAt', '#owner': 'owner' };
  return {
    async acquire(scope, req) {
      const key = idempotencyKeyOf(scope);
      for (let attempt = 1; ; attempt++) {
        const record: IdempotencyRecord<A> = {
          status: 'INPROGRESS', fingerprint: req.fingerprint, owner: req.owner, requestId: req.requestId,
          inProgressUntil: req.now + times.inProgressSeconds * 1000,
          expiresAt: Math.floor(req.now / 1000) + times.ttlSeconds,
        };
        try {
          await table.db.send(new PutCommand({
            TableName: table.name,
            Item: { ...key, ...record },
            // Free, or expired (TTL has not deleted it yet): a new request under this key.
            ConditionExpression: 'attribute_not_exists(#pk) OR #expires < :nowSeconds',
            ExpressionAttributeNames: { '#pk': names['#pk'], '#expires': names['#expires'] },
            ExpressionAttributeValues: { ':nowSeconds': Math.floor(req.now / 1000) },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }));
          return { kind: 'acquired', requestId: req.requestId, resumed: false };
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
          const held = itemFromConditionFailure<IdempotencyRecord<A>>(err) ?? await read<A>(table, key);
          // Released or expired between the write and the read: try to take it again.
          if (!held) {
            if (attempt >= ACQUIRE_ATTEMPTS) return { kind: 'inProgress' };
            continue;
          }
          if (held.fingerprint !== req.fingerprint) return { kind: 'mismatch' };
          if (held.status === 'COMPLETED' && held.answer !== undefined) return { kind: 'replay', answer: held.answer };
          if (held.inProgressUntil >= req.now) return { kind: 'inProgress' };
          // Its request died holding the key (the window outlasts any API invocation): take the
          // key over, but not the work's name: the retry goes on as the first request.
          const resumed = await takeOver(table, key, held, { ...req, until: record.inProgressUntil });
          if (resumed) return { kind: 'acquired', requestId: resumed, resumed: true };
          if (attempt >= ACQUIRE_ATTEMPTS) return { kind: 'inProgress' };
        }
      }
    },

    async complete(scope, req) {
      await table.db.send(new UpdateCommand({
        TableName: table.name, Key: idempotencyKeyOf(scope),
        ConditionExpression: '#status = :inProgress AND #owner = :owner',
        UpdateExpression: 'SET #status = :completed, #answer = :answer, #expires = :expires',
        ExpressionAttributeNames: { '#status': names['#status'], '#owner': names['#owner'], '#answer': 'answer', '#expires': names['#expires'] },
        ExpressionAttributeValues: {
          ':inProgress': 'INPROGRESS', ':owner': req.owner, ':completed': 'COMPLETED', ':answer': req.answer,
          ':expires': Math.floor(req.now / 1000) + times.ttlSeconds,
        },
      })).catch((err) => { if (!isConditionFailure(err)) throw err; });
    },

    async release(scope, owner) {
      await table.db.send(new DeleteCommand({
        TableName: table.name, Key: idempotencyKeyOf(scope),
        ConditionExpression: '#status = :inProgress AND #owner = :owner',
        ExpressionAttributeNames: { '#status': names['#status'], '#owner': names['#owner'] },
        ExpressionAttributeValues: { ':inProgress': 'INPROGRESS', ':owner': owner },
      })).catch((err) => { if (!isConditionFailure(err)) throw err; });
    },
  };
}

/**
 * One conditional write that moves an abandoned key to a new owner, only if it is still the
 * abandoned request's; the request id the work runs under stays the first request's. Returns it,
 * or undefined when another retry took the key first.
 */
async function takeOver<A>(
  table: Table, key: { pk: string; sk: string }, held: IdempotencyRecord<A>, req: { owner: string; now: number; until: number },
): Promise<string | undefined> {
  const requestId = held.requestId ?? held.owner;
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: key,
      ConditionExpression: '#status = :inProgress AND #owner = :abandoned AND #until < :now',
      UpdateExpression: 'SET #owner = :owner, #until = :until, #request = :request',
      ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner', '#until': 'inProgressUntil', '#request': 'requestId' },
      ExpressionAttributeValues: {
        ':inProgress': 'INPROGRESS', ':abandoned': held.owner, ':now': req.now, ':owner': req.owner, ':until': req.until,
        ':request': requestId,
      },
    }));
    return requestId;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}

async function read<A>(table: Table, key: { pk: string; sk: string }): Promise<IdempotencyRecord<A> | undefined> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: key, ConsistentRead: true }));
  return out.Item as IdempotencyRecord<A> | undefined;
}
