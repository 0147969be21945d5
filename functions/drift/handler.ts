import type { EventBridgeEvent } from 'aws-lambda';
import { ec2Settings } from '../core/shared/config.js';
import { ec2Client } from '../core/compute/ec2/client.js';
import { onStateChange, reconcile } from '../core/compute/ec2/drift.js';
import { tableFromEnv } from '../core/shared/table.js';
import { logger } from '../observability/index.js';

// The drift Lambda's entry (stacks deployed with -c driver=ec2): EventBridge brings EC2's
// instance state-change notifications, and a schedule the periodic reconcile for missed ones.

const table = tableFromEnv();
const settings = ec2Settings(process.env);
const ec2 = ec2Client(settings);

type StateChange = EventBridgeEvent<'EC2 Instance State-change Notification', { 'instance-id': string; state: string }>;
type Scheduled = EventBridgeEvent<'Scheduled Event', unknown>;

export const handler = async (event: StateChange | Scheduled) => {
  if (event['detail-type'] === 'EC2 Instance State-change Notification') {
    const detail = (event as StateChange).detail;
    const changed = await onStateChange(table, ec2, settings.stackTag, detail['instance-id'], Date.now);
    if (changed) logger.info('server state taken from EC2', { instanceId: detail['instance-id'], state: detail.state });
    return { changed: changed ? 1 : 0 };
  }
  const result = await reconcile(table, ec2, settings.stackTag, Date.now);
  if (result.changed > 0) logger.warn('reconcile found servers out of step with EC2', result);
  return result;
};
