import { Duration } from 'aws-cdk-lib';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import { VISIBILITY_TIMEOUT_FACTOR, type Timings } from '../functions/core/shared/config.js';

export interface OperationQueuesProps {
  /** The visibility timeout and maxReceiveCount, as the handlers' leases assume them. */
  readonly timings: Timings;
  /** The dead-letter function's timeout, for the dead-letter queue's visibility timeout. */
  readonly deadLetterTimeout: Duration;
}

/**
 * The operations queue: FIFO, one message group per instance (the API sets MessageGroupId to the
 * instance id), deduplicated by request id. High-throughput mode (deduplication and throughput
 * per message group) because groups are independent: instances never share an order.
 */
export class OperationQueues extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: OperationQueuesProps) {
    super(scope, id);
    // A FIFO queue's dead-letter queue must be FIFO too; 14 days gives people time to look.
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      fifo: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.seconds(props.deadLetterTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new Queue(this, 'Queue', {
      fifo: true,
      // Deduplication ids are the request ids: a retried SendMessage is harmless.
      contentBasedDeduplication: false,
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: Duration.seconds(props.timings.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.timings.maxReceiveCount },
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }
}
