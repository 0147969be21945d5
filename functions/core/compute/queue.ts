import type { SQSClient } from '@aws-sdk/client-sqs';
import { onFirstUse } from '../shared/onFirstUse.js';
import { isOperationName, type OperationName } from './catalogue.js';

/** The work an accepted request leaves for the compute worker. */
export interface OperationMessage {
  readonly requestId: string;
  readonly instanceId: string;
  readonly op: OperationName;
  /** The claim's fencing token. */
  readonly token: number;
  readonly params: Record<string, unknown>;
  readonly userId: string;
  readonly projectId: string;
  /** Admission time (epoch ms): the instance action's start, for whoever writes its record. */
  readonly claimedAt?: number;
  /** The caller's X-OpenStack-Request-ID, when it sent one: ties the work to its request chain. */
  readonly globalRequestId?: string;
  /**
   * How many times the operation was sent again to wait on its backend (resumption.ts): part of
   * the copy's deduplication id, so that FIFO deduplication does not swallow it. Absent: the API's.
   */
  readonly resumption?: number;
}

export interface OperationQueue {
  send(message: OperationMessage): Promise<void>;
}

/**
 * An SQS client, or what makes one on first use: the API's reads send nothing, so its function
 * loads the SQS client's module with its first send, not at its cold start (docs/costs.md).
 */
export type SqsClientSource = SQSClient | (() => Promise<SQSClient>);

/**
 * SQS FIFO: one message group per instance keeps its operations in order and one at a time;
 * the request id as deduplication id makes a retried send harmless.
 */
export function sqsOperationQueue(sqs: SqsClientSource, queueUrl: string): OperationQueue {
  const client = onFirstUse(async () => (typeof sqs === 'function' ? sqs() : sqs));
  return {
    async send(message) {
      const [ready, { SendMessageCommand }] = await Promise.all([client(), import('@aws-sdk/client-sqs')]);
      await ready.send(new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(message),
        MessageGroupId: message.instanceId,
        MessageDeduplicationId: message.resumption ? `${message.requestId}.${message.resumption}` : message.requestId,
      }));
    },
  };
}

/** The message as the API queued it; anything else (another op name included) is not one. */
export function parseOperationMessage(body: string): OperationMessage {
  const message = JSON.parse(body) as OperationMessage;
  if (typeof message?.instanceId !== 'string' || typeof message.requestId !== 'string'
    || typeof message.token !== 'number' || !isOperationName(message.op)) {
    throw new Error('not an operation message');
  }
  return message;
}
