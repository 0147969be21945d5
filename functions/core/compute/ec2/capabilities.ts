import type { DriverCapabilities } from '../driver.js';

// What the EC2 driver cannot carry out (docs/ec2.md says why for each). Apart from the driver
// itself, so that the API reads it without loading the EC2 client; plans.ts has a plan for
// every other operation, which its type checks.

export const EC2_UNSUPPORTED = [
  // EC2 has no rescue boot: booting another image with the original root volume attached would
  // be a second instance and a volume move, not a mode of this one.
  'rescue', 'unrescue',
  // EC2 has no call into the guest (Systems Manager would be one, with an agent on the image).
  'change_password',
  // EC2 places an instance on its own hosts and never says which: there is no host to move it
  // from or to (a dedicated host is another product). Admission answers Nova's 501, as Nova does
  // for a virt driver without the operation.
  'migrate', 'live_migrate', 'evacuate',
] as const;

export type Ec2Unsupported = (typeof EC2_UNSUPPORTED)[number];

export const Ec2Capabilities: DriverCapabilities = { unsupported: new Set(EC2_UNSUPPORTED) };
