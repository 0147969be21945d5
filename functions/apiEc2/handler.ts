import { ec2Client } from '../core/compute/ec2/client.js';
import { ec2Console } from '../core/compute/ec2/console.js';
import { EnvReader } from '../core/shared/config.js';
import { apiLambda } from '../api/lambda.js';

// The API Lambda of a stack deployed with -c driver=ec2 (docs/ec2.md): the same API, the guest
// console read from EC2 (GetConsoleOutput). It needs only the endpoint and the stack's tag.

const env = new EnvReader(process.env);
const endpoint = env.string('TASKGATE_EC2_ENDPOINT');

export const handler = apiLambda({
  consoleReader: ec2Console(ec2Client(endpoint ? { endpoint } : {}), env.required('TASKGATE_EC2_STACK_TAG')),
});
