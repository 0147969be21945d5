import { isOperationName, type OperationName } from '../functions/core/compute/catalogue.js';
import { ConfigError } from '../functions/core/shared/config.js';
import { DriverError } from '../functions/core/shared/errors.js';
import type { StepHook } from '../functions/core/compute/simulatedDriver.js';

/**
 * Makes one step of one operation fail as a driver failure would (the operation's failure
 * outcome, with a fault): for trying the failure paths by hand with `npm start`
 * (TASKGATE_DRIVER_FAIL_AT), and for the tests.
 */
export function failAt(op: OperationName, step: string): StepHook {
  return (running, name) => {
    if (running === op && name === step) throw new DriverError(`Injected failure at ${op}:${step}`);
  };
}

/** Parses `<operation>:<step>`, as TASKGATE_DRIVER_FAIL_AT gives it. */
export function failAtFromSetting(name: string, value: string): StepHook {
  const [op, step] = value.split(':');
  if (!isOperationName(op) || !step) throw new ConfigError(`${name} must be <operation>:<step>, e.g. rebuild:spawn, not ${JSON.stringify(value)}`);
  return failAt(op, step);
}
