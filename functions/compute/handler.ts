import { driverSettings } from '../core/shared/config.js';
import { createDriver } from '../core/compute/drivers.js';
import { computeLambda } from './lambda.js';

// The compute Lambda with the driver the configuration names (the simulated one; the EC2
// driver's function is functions/computeEc2, whose bundle carries the EC2 client).

export const handler = computeLambda((table) => createDriver(table, driverSettings(process.env)));
