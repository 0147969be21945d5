// The real Keystone the identity tests run against (scripts/keystone/harness.ts).
export { startKeystone, keystoneInstalled, type Keystone, type KeystoneUser, type KeystoneOptions } from '../../scripts/keystone/harness.js';
