import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Fault } from '../instance.js';
import { PowerState, type PowerStateValue, type VmState } from '../states.js';
import { isConditionFailure, keys, type Table } from '../../shared/table.js';
import { instanceView, isGone, type Ec2State, type InstanceView } from './observe.js';
import { TagKeys } from './tags.js';

// Drift: an instance stopped, started or terminated outside taskgate (the console, another
// tool). EC2's state-change event, or the periodic reconcile, brings what EC2 says now onto the
// server, as Nova's _sync_power_states does, but only onto an idle server: never over a claim
// in flight (that operation's own resumption reads EC2 and decides), and never over a change
// made after EC2 was read (a late event must not undo a later operation).

export interface Observed {
  readonly serverId: string;
  readonly instanceId: string;
  readonly state: Ec2State;
  /** When EC2 was read (epoch ms). */
  readonly seenAt: number;
}

interface DriftChange {
  readonly from: readonly VmState[];
  readonly vmState: VmState;
  readonly powerState: PowerStateValue;
  readonly fault?: (o: Observed) => Fault;
}

/**
 * What EC2's state means for a server in each vm_state. Only settled states move a server; the
 * vm_states that expect the instance stopped (paused and suspended hibernate, shelved ones stop)
 * are left alone by a stopped instance, and a resized server waits for its confirm or revert.
 */
function driftFor(state: Ec2State): DriftChange | undefined {
  switch (state) {
    case 'running': return { from: ['stopped', 'paused', 'suspended'], vmState: 'active', powerState: PowerState.RUNNING };
    case 'stopped': return { from: ['active'], vmState: 'stopped', powerState: PowerState.SHUTDOWN };
    case 'terminated': return {
      from: ['active', 'stopped', 'paused', 'suspended', 'shelved', 'resized', 'rescued', 'error'], vmState: 'error', powerState: PowerState.NOSTATE,
      fault: (o) => ({ code: 500, message: `EC2 instance ${o.instanceId} was terminated outside taskgate`, created: new Date(o.seenAt).toISOString() }),
    };
    default: return undefined;
  }
}

/**
 * One conditional write: the server takes EC2's state if it is idle (no task_state: no claim),
 * not deleted, in a vm_state the change applies to, and unchanged since EC2 was read.
 * True if it changed.
 */
export async function applyObserved(table: Table, o: Observed): Promise<boolean> {
  const change = driftFor(o.state);
  if (!change) return false;
  const seen = new Date(o.seenAt).toISOString();
  const values: Record<string, unknown> = { ':vm': change.vmState, ':power': change.powerState, ':seen': seen };
  const from = change.from.map((state, i) => { values[`:from${i}`] = state; return `:from${i}`; });
  const sets = ['#vm = :vm', '#power = :power', '#updated = :seen'];
  if (change.fault) { sets.push('#fault = :fault'); values[':fault'] = change.fault(o); }
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name,
      Key: keys.instance(o.serverId),
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#ts) AND attribute_not_exists(#deleted) '
        + `AND #vm IN (${from.join(', ')}) AND #updated < :seen`,
      UpdateExpression: `SET ${sets.join(', ')}`,
      ExpressionAttributeNames: {
        '#ts': 'taskState', '#deleted': 'deleted', '#vm': 'vmState', '#power': 'powerState', '#updated': 'updated',
        ...(change.fault ? { '#fault': 'fault' } : {}),
      },
      ExpressionAttributeValues: values,
    }));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

const observedOf = (v: InstanceView, seenAt: number): Observed | undefined =>
  v.serverId ? { serverId: v.serverId, instanceId: v.id, state: isGone(v) ? 'terminated' : v.state, seenAt } : undefined;

/**
 * An "EC2 Instance State-change Notification": the event says which instance; EC2 is read again
 * (the event may be late, or out of order) and only this stack's instances count.
 */
export async function onStateChange(table: Table, ec2: EC2Client, stack: string, instanceId: string, now: () => number): Promise<boolean> {
  const seenAt = now();
  const out = await ec2.send(new DescribeInstancesCommand({
    InstanceIds: [instanceId], Filters: [{ Name: `tag:${TagKeys.stack}`, Values: [stack] }],
  }));
  const view = out.Reservations?.[0]?.Instances?.[0];
  const observed = view && observedOf(instanceView(view), seenAt);
  return observed ? applyObserved(table, observed) : false;
}

/** The periodic reconcile, for events that never came: every instance of this stack, a page at a time. */
export async function reconcile(table: Table, ec2: EC2Client, stack: string, now: () => number): Promise<{ seen: number; changed: number }> {
  let seen = 0;
  let changed = 0;
  let NextToken: string | undefined;
  do {
    const seenAt = now();
    const out = await ec2.send(new DescribeInstancesCommand({
      Filters: [{ Name: `tag:${TagKeys.stack}`, Values: [stack] }], MaxResults: 500, ...(NextToken ? { NextToken } : {}),
    }));
    for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const observed = observedOf(instanceView(i), seenAt);
      if (!observed) continue;
      seen++;
      if (await applyObserved(table, observed)) changed++;
    }
    NextToken = out.NextToken;
  } while (NextToken);
  return { seen, changed };
}
