import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, itemFromConditionFailure, keys, usedPlaceholders, type Table } from '../shared/table.js';
import { nowIso, portInUse, portNotFound, type Asker, type Port } from './model.js';
import { readPort } from './ports.js';
import { groupsForPort } from './securityGroups.js';
import { fieldAssignments } from './store.js';

// Neutron's update of a port: its name, description, state, groups. Its device is a server's
// while a server holds it (only Nova changes that, by attach and detach); a port no server holds
// may be given to another device by name, which holds it as a server would (Nova cannot bind it).

export interface PortChanges {
  readonly name?: string;
  readonly description?: string;
  readonly adminStateUp?: boolean;
  readonly securityGroups?: readonly string[];
  readonly portSecurityEnabled?: boolean;
  readonly deviceId?: string;
  readonly deviceOwner?: string;
}

/** ONE conditional write on the port, as it was read (never being made or removed, nor deleted through Neutron). */
export async function updatePort(table: Table, asker: Asker, id: string, changes: PortChanges, now: number): Promise<Port> {
  const port = await readPort(table, id);
  if (!port || !(asker.isAdmin || port.projectId === asker.projectId)) throw portNotFound(id);
  const device = changes.deviceId !== undefined || changes.deviceOwner !== undefined;
  if (device && port.instanceId) throw portInUse(id, port.networkId, port.instanceId);
  const groups = changes.securityGroups === undefined ? undefined : await groupsForPort(table, port.projectId, changes.securityGroups, now);
  const names: Record<string, string> = {
    '#status': 'status', '#doomed': 'doomed', '#project': 'projectId', '#instance': 'instanceId', '#rev': 'revision', '#updated': 'updatedAt',
  };
  const values: Record<string, unknown> = {
    ':creating': 'creating', ':deleting': 'deleting', ':project': port.projectId, ':now': nowIso(now), ':one': 1,
  };
  const sets = ['#updated = :now'];
  const set = (field: string, value: unknown) => sets.push(...fieldAssignments({ [field]: value }, names, values));
  const fields: Record<string, unknown> = {
    name: changes.name, description: changes.description, adminStateUp: changes.adminStateUp, securityGroups: groups,
    portSecurityEnabled: changes.portSecurityEnabled,
  };
  sets.push(...fieldAssignments(fields, names, values));
  const conditions = ['#project = :project', 'attribute_not_exists(#doomed)', 'NOT #status IN (:creating, :deleting)'];
  if (device) {
    const deviceId = changes.deviceId ?? port.deviceId ?? '';
    set('deviceId', deviceId);
    set('deviceOwner', changes.deviceOwner ?? port.deviceOwner ?? '');
    set('status', deviceId ? 'in-use' : 'available');
    // Only from unbound: a reservation by a server meanwhile wins, and this is refused.
    conditions.push('attribute_not_exists(#instance)', '#status IN (:available, :inUse)');
    Object.assign(values, { ':available': 'available', ':inUse': 'in-use' });
  }
  const condition = conditions.join(' AND ');
  const expression = `SET ${sets.join(', ')} ADD #rev :one`;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.port(id), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], names, values), ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    return out.Attributes as Port;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const current = itemFromConditionFailure<Port>(err);
    if (current?.instanceId && current.status !== 'deleting' && !current.doomed) throw portInUse(id, port.networkId, current.instanceId);
    throw portNotFound(id);
  }
}
