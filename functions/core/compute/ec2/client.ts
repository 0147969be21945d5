import { EC2Client } from '@aws-sdk/client-ec2';
import type { Ec2Settings } from '../../shared/config.js';

/**
 * The EC2 client the driver and the drift function use. Adaptive retry mode: the SDK slows its
 * own sending when EC2 answers RequestLimitExceeded (a client-side token bucket shared by every
 * call of this process), before the driver hands a still-throttled step back to the queue.
 */
export function ec2Client(settings: Pick<Ec2Settings, 'endpoint'>): EC2Client {
  return new EC2Client({
    retryMode: 'adaptive',
    maxAttempts: 4,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
  });
}
