import { setTimeout as sleep } from 'node:timers/promises';
import type { OperationMessage, OperationQueue } from '../../../functions/core/compute/queue.js';
import type { FaultLog } from './faultLog.js';
import type { SeededRandom } from './random.js';

// The operation queue as the API sees it, with faults: SendMessage fails (the API must answer
// 503 and give everything back), the message is lost after SQS accepted it (the sweeper must
// end the operation), it arrives late, or it is delivered twice (FIFO deduplication does not
// cover a redelivery; the duplicate is sent under another deduplication id to get past it).

export interface QueueFaultRates {
  sendFailure: number;
  drop: number;
  delay: number;
  duplicate: number;
}

export class FaultyQueue implements OperationQueue {
  private readonly pending = new Set<Promise<void>>();
  constructor(
    private readonly inner: OperationQueue,
    private readonly options: {
      readonly random: SeededRandom; readonly log: FaultLog; rates: QueueFaultRates;
      readonly maxDelayMs: number;
      /** Sends a second copy past the FIFO deduplication (e.g. another MessageDeduplicationId). */
      readonly sendDuplicate: (message: OperationMessage) => Promise<void>;
    },
  ) {}

  async send(message: OperationMessage): Promise<void> {
    const { random, log, rates } = this.options;
    const detail = { requestId: message.requestId, op: message.op };
    if (random.chance(rates.sendFailure)) {
      log.note('queue.sendFailure', detail);
      throw Object.assign(new Error('Injected: SendMessage failed'), { name: 'InternalError' });
    }
    if (random.chance(rates.drop)) {
      log.note('queue.drop', detail);
      return;
    }
    if (random.chance(rates.delay)) {
      log.note('queue.delay', detail);
      const late = sleep(random.int(this.options.maxDelayMs)).then(() => this.inner.send(message)).catch(() => undefined);
      this.pending.add(late);
      void late.finally(() => this.pending.delete(late));
      return;
    }
    await this.inner.send(message);
    if (random.chance(rates.duplicate)) {
      log.note('queue.duplicate', detail);
      await this.options.sendDuplicate(message);
    }
  }

  /** Waits for every delayed send to have gone out. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
