import { ec2Client } from '../core/compute/ec2/client.js';
import { Ec2Driver } from '../core/compute/ec2/ec2Driver.js';
import { ec2Settings } from '../core/shared/config.js';
import { computeLambda } from '../compute/lambda.js';

// The compute Lambda of a stack deployed with -c driver=ec2 (docs/ec2.md): the same worker and
// queue consumer, the EC2 driver.

const settings = ec2Settings(process.env);

export const handler = computeLambda((table) => new Ec2Driver(ec2Client(settings), settings, { table }).asComputeDriver());
