import { ConfigError, type DriverSettings } from '../shared/config.js';
import type { ComputeDriver } from './driver.js';
import { SimulatedDriver, type StepHook } from './simulatedDriver.js';
import type { Table } from '../shared/table.js';

/**
 * The driver the configuration names (TASKGATE_DRIVER). This is where a real driver plugs in:
 * a name in config.ts's DRIVERS and its construction here; the worker knows only ComputeDriver.
 * `beforeStep` is for the local runtime's fault injection; the compute Lambda passes none.
 */
export function createDriver(table: Table, settings: DriverSettings, beforeStep?: StepHook): ComputeDriver {
  switch (settings.driver) {
    case 'simulated':
      return new SimulatedDriver(table, { stepMs: settings.stepMs, beforeStep });
    case 'ec2':
      // Built by its own entry (functions/computeEc2/handler.ts): the EC2 client would otherwise
      // be bundled into every compute function, a megabyte more for each cold start to load.
      throw new ConfigError('TASKGATE_DRIVER=ec2 runs in the computeEc2 function (functions/computeEc2/handler.ts), not here');
  }
}
