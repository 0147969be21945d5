import { Duration } from 'aws-cdk-lib';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** AWS's guidance for a queue that feeds Lambda: visibility timeout at least six times the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export interface OperationQueuesProps {
  /** The compute function's timeout; the visibility timeout follows from it. */
  readonly computeTimeout: Duration;
  /** The dead-letter function's timeout, for the dead-letter queue's visibility timeout. */
  readonly deadLetterTimeout: Duration;
  /** Deliveries of one message before it goes to the dead-letter queue. */
  readonly maxReceiveCount: number;
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
      visibilityTimeout: Duration.seconds(props.computeTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }
}
