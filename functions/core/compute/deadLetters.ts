import { readInstance } from './readInstance.js';
import type { OperationMessage } from './queue.js';
import { abandonSuperseded, settleOperation } from './settle.js';
import type { Table } from '../shared/table.js';

/**
 * A message that failed maxReceiveCount times: if its claim is still current, release it with
 * the operation's failure outcome and a fault; otherwise it was superseded and only its action
 * record (and any reservation) needs closing.
 */
export async function settleDeadLetter(table: Table, msg: OperationMessage, receiveCount: number, now: number): Promise<void> {
  const instance = await readInstance(table, msg.instanceId);
  const current = instance?.version === msg.token && instance.claim?.requestId === msg.requestId;
  if (current) {
    const settled = await settleOperation(table, {
      instance, claim: msg, token: msg.token, now,
      result: { ok: false, message: `Operation ${msg.op} failed on every delivery and was dead-lettered (receive count ${receiveCount})` },
    });
    if (settled) return;
  }
  await abandonSuperseded(table, msg.instanceId, msg, now, instance);
}
