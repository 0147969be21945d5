import type { DriverName } from '../shared/config.js';
import { EVERY_OPERATION, type DriverCapabilities } from './driver.js';
import { Ec2Capabilities } from './ec2/capabilities.js';

/**
 * What the configured driver (TASKGATE_DRIVER) can carry out, for admission: each driver's own
 * declaration. The simulated hypervisor does every operation.
 */
export function driverCapabilities(driver: DriverName): DriverCapabilities {
  switch (driver) {
    case 'simulated': return EVERY_OPERATION;
    case 'ec2': return Ec2Capabilities;
  }
}
