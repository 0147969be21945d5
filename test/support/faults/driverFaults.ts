import { setTimeout as sleep } from 'node:timers/promises';
import type { OperationName } from '../../../functions/core/compute/catalogue.js';
import type { ComputeDriver, OperationContext } from '../../../functions/core/compute/driver.js';
import { DriverError } from '../../../functions/core/shared/errors.js';
import type { FaultLog } from './faultLog.js';
import { currentInvocation } from './invocation.js';

// A ComputeDriver wrapper that fails or hangs an operation at a named step. Steps are named
// by the operation and the checkpoint the driver is about to pass (`rebuild#2` is the second
// checkpoint of a rebuild), which any driver has; the fault fires before that checkpoint.
//   fail:  a DriverError, the operation's failure outcome;
//   crash: any other error, a crashed worker (the message is delivered again);
//   hang:  the driver stops for a while (a slow hypervisor), or until `until` resolves.

export type DriverFault =
  | { readonly kind: 'fail' }
  | { readonly kind: 'crash' }
  | { readonly kind: 'hang'; readonly ms?: number; readonly until?: Promise<void> };

export interface StepEvent {
  readonly op: OperationName;
  readonly requestId: string;
  readonly instanceId: string;
  /** `<op>#<n>`: the nth checkpoint of this run; `<op>#start` and `<op>#end` bracket the call. */
  readonly step: string;
  readonly phase: 'start' | 'passed' | 'refused' | 'end';
  readonly taskState?: string;
}

export function faultyDriver(inner: ComputeDriver, options: {
  /** The fault for a step, or undefined: called once per step of every run. */
  readonly faultAt?: (step: string, ctx: OperationContext) => DriverFault | undefined;
  readonly log?: FaultLog;
  /** Every step, as it happens: for a history recorder. */
  readonly onStep?: (event: StepEvent) => void;
}): ComputeDriver {
  const ops = Object.keys(inner) as OperationName[];
  return Object.fromEntries(ops.map((op) => [op, async (ctx: OperationContext) => {
    const invocation = currentInvocation();
    if (invocation) invocation.driver = true;
    const note = (step: string, phase: StepEvent['phase'], taskState?: string) =>
      options.onStep?.({ op, requestId: ctx.requestId, instanceId: ctx.instance.id, step, phase, taskState });
    let n = 0;
    const inject = async (step: string) => {
      const fault = options.faultAt?.(step, ctx);
      if (!fault) return;
      options.log?.note(`driver.${fault.kind}`, { step, requestId: ctx.requestId });
      if (fault.kind === 'fail') throw new DriverError(`Injected failure at ${step}`);
      if (fault.kind === 'crash') throw new Error(`Injected crash at ${step}`);
      await (fault.until ?? sleep(fault.ms ?? 0));
    };
    note(`${op}#start`, 'start');
    try {
      const patch = await inner[op]({
        ...ctx,
        checkpoint: async (taskState) => {
          const step = `${op}#${++n}`;
          await inject(step);
          try {
            await ctx.checkpoint(taskState);
          } catch (err) {
            note(step, 'refused', taskState);
            throw err;
          }
          note(step, 'passed', taskState);
        },
      });
      await inject(`${op}#end`);
      note(`${op}#end`, 'end');
      return patch;
    } finally {
      if (invocation) invocation.driver = false;
    }
  }])) as unknown as ComputeDriver;
}
