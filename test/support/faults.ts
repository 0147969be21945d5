import type { OperationName } from '../../functions/core/compute/catalogue.js';
import type { StepHook } from '../../functions/core/compute/simulatedDriver.js';

export { failAt } from '../../local/faults.js';

/**
 * A worker crash (not a driver failure: the message is delivered again) at one step of one
 * operation, the first `times` times it is reached.
 */
export function crashAt(op: OperationName, step: string, times = Number.MAX_SAFE_INTEGER): StepHook {
  let left = times;
  return (running, name) => {
    if (running === op && name === step && left > 0) {
      left--;
      throw new Error(`Simulated crash at ${op}:${step}`);
    }
  };
}
