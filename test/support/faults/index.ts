// Fault injection for tests: wrappers and SDK middleware a test adds to what it builds. No
// production code reads any of it; each piece is seeded, and they compose.
export { SeededRandom } from './random.js';
export { FaultLog, type FaultKind } from './faultLog.js';
export { invocations, currentInvocation, runAs, Killed, type Invocation, type Role } from './invocation.js';
export { addDynamoFaults, ThrottledError, WRITE_COMMANDS, type DynamoFaultOptions } from './dynamoFaults.js';
export { FaultyQueue, type QueueFaultRates } from './queueFaults.js';
export { faultyDriver, type DriverFault, type StepEvent } from './driverFaults.js';
