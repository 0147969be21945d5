import type { DriverSettings } from '../shared/config.js';
import type { ComputeDriver } from './driver.js';
import { ec2Client } from './ec2/client.js';
import { Ec2Driver } from './ec2/ec2Driver.js';
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
      return new Ec2Driver(ec2Client(settings.ec2!), settings.ec2!).asComputeDriver();
  }
}
