// The handlers of Nova's rarely used routes (computeRoutes.ts computeRoutesOnFirstUse), in one
// module: one import() loads them all with the first request to any of them. One chunk, not one
// per group: each group import()ed alone split the code they share with the rest of the API into
// as many more chunks loaded at the cold start (43 files instead of 21, about 25 ms more CPU;
// docs/costs.md, cold start).

export { aggregateHandlers } from './aggregates.js';
export { availabilityZoneHandlers } from './availabilityZones.js';
export { externalEventHandlers } from './externalEvents.js';
export { flavorAdminHandlers } from './flavorAdmin.js';
export { guestReadHandlers } from './guestReads.js';
export { hypervisorHandlers } from './hypervisors.js';
export { novaImageHandlers } from './images.js';
export { migrationHandlers } from './migrations.js';
export { networkProxyHandlers } from './networkProxies.js';
export { quotaHandlers } from './quotas.js';
export { instanceActionHandlers } from './readonly.js';
export { serverGroupHandlers } from './serverGroups.js';
export { usageHandlers } from './usage.js';
