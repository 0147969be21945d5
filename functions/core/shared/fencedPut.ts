import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { FencedOut } from './errors.js';
import { keys, type Table } from './table.js';

// A worker's write on an item other than its instance (an image record) that must not land once
// its claim was taken over. One conditional write cannot check two items, so the write goes in a
// transaction with a check of the instance item's version: the claim's token, as fencedUpdate.ts
// fences the instance's own writes. Checking the claim just before a plain write would leave the
// window between the check and the write open to a takeover.

/** The claim a worker holds: the instance and its token (the instance's version at take-up). */
export interface ClaimFence {
  readonly instanceId: string;
  readonly token: number;
}

export interface ConditionalPut {
  readonly item: Record<string, unknown>;
  readonly condition: string;
  readonly names?: Record<string, string>;
  readonly values?: Record<string, unknown>;
}

/** Where the instance item is gone or its version moved on: the claim is not this worker's anymore. */
const FENCE_CONDITION = '#fenceVersion = :fenceToken';

/**
 * Puts `put.item` if its own condition holds AND the claim is still `fence`'s. Throws FencedOut
 * when the claim moved on (nothing written); an error named ConditionalCheckFailedException (as a
 * plain conditional Put throws) when only the item's own condition failed.
 */
export async function fencedPut(table: Table, fence: ClaimFence, put: ConditionalPut): Promise<void> {
  await fencedWrite(table, fence, {
    Put: {
      TableName: table.name, Item: put.item, ConditionExpression: put.condition,
      ...(put.names ? { ExpressionAttributeNames: put.names } : {}),
      ...(put.values ? { ExpressionAttributeValues: put.values } : {}),
    },
  });
}

export interface ConditionalUpdate {
  readonly key: Record<string, string>;
  readonly update: string;
  readonly condition: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, unknown>;
}

/** As fencedPut, for an update of an item the worker does not own (a Migration record's status). */
export async function fencedItemUpdate(table: Table, fence: ClaimFence, update: ConditionalUpdate): Promise<void> {
  await fencedWrite(table, fence, {
    Update: {
      TableName: table.name, Key: update.key, UpdateExpression: update.update, ConditionExpression: update.condition,
      ExpressionAttributeNames: update.names, ExpressionAttributeValues: update.values,
    },
  });
}

type FencedMember = { Put: Record<string, unknown> } | { Update: Record<string, unknown> };

async function fencedWrite(table: Table, fence: ClaimFence, write: FencedMember): Promise<void> {
  try {
    await table.db.send(new TransactWriteCommand({
      TransactItems: [
        {
          ConditionCheck: {
            TableName: table.name, Key: keys.instance(fence.instanceId), ConditionExpression: FENCE_CONDITION,
            ExpressionAttributeNames: { '#fenceVersion': 'version' }, ExpressionAttributeValues: { ':fenceToken': fence.token },
          },
        },
        write as never,
      ],
    }));
  } catch (err) {
    const reasons = cancellationCodes(err);
    if (!reasons) throw err;
    if (reasons[0] === 'ConditionalCheckFailed') throw new FencedOut(fence.instanceId, fence.token);
    if (reasons[1] === 'ConditionalCheckFailed') {
      const failure = new Error('The conditional request failed');
      failure.name = 'ConditionalCheckFailedException';
      throw failure;
    }
    throw err;
  }
}

/** The code of each member of a cancelled transaction, in order; undefined for any other error. */
export function cancellationCodes(err: unknown): (string | undefined)[] | undefined {
  if (!(err instanceof Error) || err.name !== 'TransactionCanceledException') return undefined;
  const reasons = (err as Error & { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  return reasons?.map((reason) => reason.Code);
}
