import type { ConsoleReader } from '../core/compute/consoleLog.js';
import { EnvReader } from '../core/shared/config.js';
import { onFirstUse } from '../core/shared/onFirstUse.js';
import { apiLambda } from '../api/lambda.js';

// The API Lambda of a stack deployed with -c driver=ec2 (docs/ec2.md): the same API, the guest
// console read from EC2 (GetConsoleOutput). It needs only the endpoint and the stack's tag, read
// as it loads; the EC2 client (about 550 KiB of the bundle) loads with the first console read,
// not at every cold start (docs/costs.md, cold start).

const env = new EnvReader(process.env);
const endpoint = env.string('TASKGATE_EC2_ENDPOINT');
const stackTag = env.required('TASKGATE_EC2_STACK_TAG');

const ec2Reader = onFirstUse(async (): Promise<ConsoleReader> => {
  const [{ ec2Client }, { ec2Console }] = await Promise.all([import('../core/compute/ec2/client.js'), import('../core/compute/ec2/console.js')]);
  return ec2Console(ec2Client(endpoint ? { endpoint } : {}), stackTag);
});

export const handler = apiLambda({
  consoleReader: { read: async (instance) => (await ec2Reader()).read(instance) },
});
