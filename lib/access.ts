import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { OperationsTable } from './table.js';

// Least privilege by name. CDK's table.grantReadWriteData() would add BatchWriteItem,
// ConditionCheckItem, Scan and every index (`index/*`); queue.grantSendMessages() adds
// GetQueueUrl and GetQueueAttributes. Each function gets only what its code path calls
// (see the commands under functions/core reached from its handler), on exactly the
// table and the one index it queries.

/**
 * The DynamoDB item operations taskgate uses; nothing else (no Scan, no batch write).
 * BatchGetItem only for listings: the indexes hold keys, the items are read after.
 * ConditionCheckItem for the one transaction, the worker's fenced image write
 * (functions/core/shared/fencedPut.ts): IAM checks each member's own action (its Put: PutItem).
 */
export type ItemAction = 'GetItem' | 'BatchGetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' | 'ConditionCheckItem';

export function grantTable(
  grantee: IGrantable, table: OperationsTable, actions: readonly ItemAction[], queriedIndexes: readonly string[] = [],
): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({
    actions: actions.map((a) => `dynamodb:${a}`),
    resources: [table.table.tableArn],
  }));
  if (queriedIndexes.length > 0) {
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: queriedIndexes.map((name) => table.indexArn(name)),
    }));
  }
}

/** The API enqueues work: SendMessage and nothing else. */
export function grantSend(grantee: IGrantable, queue: IQueue): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({
    actions: ['sqs:SendMessage'],
    resources: [queue.queueArn],
  }));
}

/** What Lambda's SQS event source mapping does with the function's role, and nothing more. */
export const EVENT_SOURCE_ACTIONS = [
  'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes',
] as const;

export function grantConsume(grantee: IGrantable, queue: IQueue): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({
    actions: [...EVENT_SOURCE_ACTIONS],
    resources: [queue.queueArn],
  }));
}
