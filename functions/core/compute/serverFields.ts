import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { invalidStateMessage } from './refusals.js';
import { readInstance } from './readInstance.js';
import { Conflict, NotFound, type DomainError } from '../shared/errors.js';
import { isVisibleTo, securityGroupsOf, type Caller, type Instance } from './instance.js';
import type { VmState } from './states.js';
import { isConditionFailure, keys, usedPlaceholders, type Table } from '../shared/table.js';

// Changes to what the user set on a server (name, access IPs, metadata, tags, ...) that need no
// queue and no claim. Each is ONE conditional write that never moves the fencing token (a
// worker's claim stays valid), conditioned on what Nova checks for that change.

/** What Nova's compute API checks before the change (check_instance_lock / check_instance_state). */
export interface FieldRule {
  /** The action name Nova's 409 spells ("Cannot 'update metadata' instance ..."). */
  readonly verb: string;
  readonly vmStates?: readonly VmState[];
  /** task_state must be None. */
  readonly idle?: boolean;
  /** A locked server refuses it (except for an admin). */
  readonly lock?: boolean;
}

function refusal(rule: FieldRule | undefined, id: string, caller: Caller, s: Instance | undefined): DomainError | undefined {
  if (!isVisibleTo(s, caller)) return new NotFound(`Instance ${id} could not be found.`);
  if (!rule) return undefined;
  if (rule.lock && s.locked && !caller.isAdmin) return new Conflict(`Instance ${id} is locked`);
  if (rule.idle && s.taskState) return new Conflict(invalidStateMessage(rule.verb, id, 'task_state', s.taskState));
  if (rule.vmStates && !rule.vmStates.includes(s.vmState)) {
    return new Conflict(invalidStateMessage(rule.verb, id, 'vm_state', s.vmState));
  }
  return undefined;
}

/**
 * Sets `fields` on the server in one write, conditioned on the rule (and, for `expect`, on the
 * named attributes still holding the values read: a compare-and-set for whole-map changes).
 * Returns the server as written, or throws Nova's 404/409.
 */
export async function setServerFields(
  table: Table, caller: Caller, instanceId: string, fields: Record<string, unknown>,
  opts: { rule?: FieldRule; expect?: Record<string, unknown>; now?: number } = {},
): Promise<Instance | 'changed'> {
  const names: Record<string, string> = {
    '#deleted': 'deleted', '#proj': 'projectId', '#locked': 'locked', '#ts': 'taskState', '#vm': 'vmState', '#updated': 'updated',
  };
  const values: Record<string, unknown> = {
    ':proj': caller.projectId, ':false': false, ':now': new Date(opts.now ?? Date.now()).toISOString(),
  };
  const conditions = ['attribute_exists(pk)', 'attribute_not_exists(#deleted)'];
  if (!caller.isAdmin) conditions.push('#proj = :proj');
  const rule = opts.rule;
  if (rule?.lock && !caller.isAdmin) conditions.push('#locked = :false');
  if (rule?.idle) conditions.push('attribute_not_exists(#ts)');
  if (rule?.vmStates) {
    conditions.push(`#vm IN (${rule.vmStates.map((v, i) => { values[`:vm${i}`] = v; return `:vm${i}`; }).join(', ')})`);
  }
  for (const [field, value] of Object.entries(opts.expect ?? {})) {
    names[`#e_${field}`] = field;
    if (value === undefined) {
      conditions.push(`attribute_not_exists(#e_${field})`);
    } else {
      values[`:e_${field}`] = value;
      conditions.push(`#e_${field} = :e_${field}`);
    }
  }
  const sets = ['#updated = :now'];
  for (const [field, value] of Object.entries(fields)) {
    names[`#f_${field}`] = field;
    values[`:f_${field}`] = value;
    sets.push(`#f_${field} = :f_${field}`);
  }
  const condition = conditions.join(' AND ');
  const expression = `SET ${sets.join(', ')}`;
  try {
    const out = await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.instance(instanceId), ConditionExpression: condition, UpdateExpression: expression,
      ...usedPlaceholders([condition, expression], names, values), ReturnValues: 'ALL_NEW',
    }));
    return out.Attributes as Instance;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const current = await readInstance(table, instanceId);
    const refused = refusal(rule, instanceId, caller, current);
    if (refused) throw refused;
    return 'changed';
  }
}

/** A read-modify-write of one attribute (metadata, tags) by compare-and-set, retried on a race. */
export async function changeServerAttribute<T>(
  table: Table, caller: Caller, instanceId: string, attribute: 'metadata' | 'tags' | 'securityGroups',
  change: (current: T, server: Instance) => T, rule?: FieldRule,
): Promise<Instance> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = await readInstance(table, instanceId);
    const refused = refusal(rule, instanceId, caller, server);
    if (refused) throw refused;
    const current = (server as unknown as Record<string, unknown>)[attribute] as T | undefined;
    const absent = attribute === 'metadata' ? {} : attribute === 'securityGroups' ? securityGroupsOf(server!) : [];
    const next = change(current ?? (absent as T), server!);
    // Compare-and-set on a counter of these changes (never the claim's fencing token).
    const seen = server!.fieldsVersion;
    const out = await setServerFields(
      table, caller, instanceId, { [attribute]: next, fieldsVersion: (seen ?? 0) + 1 }, { rule, expect: { fieldsVersion: seen } },
    );
    if (out !== 'changed') return out;
  }
  throw new Conflict(`Instance ${instanceId} is busy; try again`);
}
