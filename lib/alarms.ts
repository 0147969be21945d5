import { Duration } from 'aws-cdk-lib';
import {
  Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData, type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CLAIMS_RELEASED_METRIC, SERVICE } from '../functions/observability/index.js';
import type { Timings } from '../functions/core/shared/config.js';

/**
 * How old the oldest queued operation may get before its alarm fires: past one full redelivery
 * (the visibility timeout plus a run), so a single retried message does not fire it; well before
 * the claim lease ends the operation.
 */
export const oldestOperationAlarmSeconds = (t: Pick<Timings, 'visibilityTimeoutSeconds' | 'runLeaseSeconds'>) =>
  t.visibilityTimeoutSeconds + t.runLeaseSeconds;

/** The sweeper's metric (functions/sweeper/handler.ts, Powertools Metrics: default dimension `service`). */
export const CLAIMS_RELEASED = { namespace: SERVICE, metricName: CLAIMS_RELEASED_METRIC, dimensionsMap: { service: SERVICE } };

export interface OperationsAlarmsProps {
  readonly functions: Record<string, IFunction>;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** Older than this, a queued operation is stuck: more than its retries can explain. */
  readonly oldestMessageAgeThreshold: Duration;
  /** An existing SNS topic that receives every alarm and its recovery. */
  readonly alarmTopicArn?: string;
}

/**
 * What someone should look at: operations that failed on every delivery, work waiting too long,
 * functions failing or throttled, and claims that had to be released by the sweeper (a worker
 * crashed or a message was lost).
 */
export class OperationsAlarms extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsAlarmsProps) {
    super(scope, id);
    const period = Duration.minutes(1);

    // Messages the dead-letter function could not settle stay in the queue (visible between its
    // retries, in flight during them): both count.
    this.add('DeadLetters', {
      metric: new MathExpression({
        label: 'Messages in the dead-letter queue',
        expression: 'visible + inflight',
        usingMetrics: {
          visible: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
          inflight: props.deadLetterQueue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum' }),
        },
        period,
      }),
      threshold: 1,
      description: 'Operation messages are in the dead-letter queue: each failed on every delivery.',
    });
    this.add('OldestOperation', {
      metric: props.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
      threshold: props.oldestMessageAgeThreshold.toSeconds(),
      description: 'A queued operation has waited too long for the compute function.',
    });
    this.add('ClaimsReleased', {
      metric: new Metric({ ...CLAIMS_RELEASED, statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      description: 'The sweeper released expired claims or reservations: a worker crashed or timed out, a message was lost, or an API invocation died between reserving a volume or port and claiming its server.',
    });
    for (const [name, fn] of Object.entries(props.functions)) {
      this.add(`${name}Errors`, {
        metric: fn.metricErrors({ period, statistic: 'Sum' }),
        threshold: 1,
        description: `The ${name} function failed (an uncaught error or a timeout).`,
      });
      this.add(`${name}Throttles`, {
        metric: fn.metricThrottles({ period, statistic: 'Sum' }),
        threshold: 1,
        description: `The ${name} function was throttled.`,
      });
    }

    if (props.alarmTopicArn) {
      const action = new SnsAction(Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn));
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  private add(id: string, p: { metric: IMetric; threshold: number; description: string }): void {
    this.alarms.push(new Alarm(this, id, {
      metric: p.metric,
      threshold: p.threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      alarmDescription: p.description,
      // No data means no dead letters, no errors, no sweep releases: all is well.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }));
  }
}
