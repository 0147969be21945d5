import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { operationRow, preempts, type OperationName } from './catalogue.js';
import { Conflict, type DomainError } from '../shared/errors.js';
import { takenOverAttribute, type Caller, type Claim, type Instance } from './instance.js';
import { readInstance } from './readInstance.js';
import { claimRefusal } from './refusals.js';
import {
  isConditionFailure, itemFromConditionFailure, keys, leaseShardOf, usedPlaceholders, type Table,
} from '../shared/table.js';

// Admission's write: ONE conditional UpdateItem on the instance item that checks state, lock,
// project and the operation's guards and sets the claim. Nothing here reads before it writes.

const CLAIM_ATTEMPTS = 3;

export interface ClaimRequest {
  readonly instanceId: string;
  readonly op: OperationName;
  readonly caller: Caller;
  readonly requestId: string;
  readonly params?: Record<string, unknown>;
  readonly now: number;
  /** How long the claim may wait for a worker before the sweeper may expire it. */
  readonly leaseMs: number;
  /** Conditions of the operation beyond its catalogue row, each with the refusal it stands for; all must hold. */
  readonly guards?: readonly ClaimGuard[];
  /** Instance fields the claim's own write sets (rebuild's new image and name, as Nova saves them at the API). */
  readonly fields?: Record<string, unknown>;
}

export interface ClaimGuard {
  readonly condition: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, unknown>;
  /** Given the item as it is, the error to answer when the guard is what failed. */
  readonly refusal: (instance: Instance) => DomainError | undefined;
  /**
   * Nova decides this before the instance's state (detach: the attachment lookup comes before
   * @check_instance_state), rather than after it (resize: the flavor check is inside the method).
   */
  readonly beforeState?: true;
}

export interface Claimed {
  readonly token: number;
  readonly instance: Instance;
}

/** Admission: ONE conditional write that checks state, lock and project and sets the claim. */
export async function claimInstance(table: Table, req: ClaimRequest): Promise<Claimed> {
  const row = operationRow(req.op);
  const names: Record<string, string> = {
    '#vm': 'vmState', '#ts': 'taskState', '#proj': 'projectId', '#locked': 'locked',
    '#claim': 'claim', '#ver': 'version', '#deleted': 'deleted', '#shard': 'leaseShard',
    '#lease': 'leaseUntil', '#renewed': 'leaseRenewedUntil', '#updated': 'updated',
  };
  const values: Record<string, unknown> = {
    ':ts': row.taskStates[0], ':one': 1, ':shard': leaseShardOf(req.instanceId),
    ':lease': req.now + req.leaseMs, ':updated': new Date(req.now).toISOString(),
  };
  // Every clause costs the backend a little on the hot path: a member's project check already
  // implies that the item exists, one allowed vm_state is an equality, not a list, and a deleted
  // server (vm_state deleted, set by the same write that marks it) fails any list of vm_states
  // that leaves deleted out.
  const required: string[] = req.caller.isAdmin ? ['attribute_exists(pk)'] : [];
  if (!req.caller.isAdmin) {
    required.push('#proj = :proj');
    if (!row.ignoresLock) required.push('#locked = :false');
    values[':proj'] = req.caller.projectId;
    values[':false'] = false;
  }
  if (row.allowedVmStates === 'any' || row.allowedVmStates.includes('deleted')) {
    required.push('attribute_not_exists(#deleted)');
  } else {
    const placeholders = row.allowedVmStates.map((state, i) => {
      values[`:vm${i}`] = state;
      return `:vm${i}`;
    });
    required.push(placeholders.length === 1 ? `#vm = ${placeholders[0]}` : `#vm IN (${placeholders.join(', ')})`);
  }
  for (const guard of req.guards ?? []) {
    if (/\bOR\b/.test(guard.condition)) throw new Error(`a claim guard is a conjunction, without OR: ${guard.condition}`);
    required.push(guard.condition);
    Object.assign(names, guard.names);
    Object.assign(values, guard.values);
  }
  const busyStates = row.allowedTaskStates.filter((t) => t !== null);
  const taskStateAlternatives = [
    ...(row.allowedTaskStates.includes(null) ? ['attribute_not_exists(#ts)'] : []),
    ...(busyStates.length > 0
      ? [`#ts IN (${busyStates.map((state, i) => { values[`:ts${i}`] = state; return `:ts${i}`; }).join(', ')})`]
      : []),
  ];
  // Without parentheses, as a disjunction of conjunctions (AND binds tighter than OR): dynalite's
  // expression parser spends about 0.3 ms backtracking over each parenthesised group, more than
  // the rest of the write; DynamoDB evaluates both forms alike.
  const condition = taskStateAlternatives.map((alternative) => [...required, alternative].join(' AND ')).join(' OR ');

  // A member's project is conditioned equal to the server's above: kept only for an administrator (Claim.projectId).
  const claim: Claim = {
    requestId: req.requestId, op: req.op, userId: req.caller.userId, ...(req.caller.isAdmin ? { projectId: req.caller.projectId } : {}),
    params: req.params ?? {}, claimedAt: req.now,
  };
  const sets = [
    '#ts = :ts', '#claim = :claim', '#shard = :shard', '#lease = :lease', '#updated = :updated',
  ];
  if (preempts(row)) {
    // Keep the claim being taken over under a name of its own (every operand is read from the
    // item as it was before this write), beside those it had taken over itself, so that the new
    // owner ends them all and gives back what they reserved: a whole chain, not just the last.
    sets.push('#takenOverNow = if_not_exists(#claim, :noClaim)');
    names['#takenOverNow'] = takenOverAttribute(req.requestId);
    values[':noClaim'] = null;
  }
  values[':claim'] = claim;
  for (const [field, value] of Object.entries(req.fields ?? {})) {
    names[`#f_${field}`] = field;
    values[`:f_${field}`] = value;
    sets.push(`#f_${field} = :f_${field}`);
  }

  // A renewal of the claim taken over is not this claim's lease.
  const expression = `SET ${sets.join(', ')} REMOVE #renewed ADD #ver :one`;
  const input = {
    TableName: table.name,
    Key: keys.instance(req.instanceId),
    ConditionExpression: condition,
    UpdateExpression: expression,
    ...usedPlaceholders([condition, expression], names, values),
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  } as const;
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await table.db.send(new UpdateCommand({ ...input }));
      const instance = out.Attributes as Instance;
      return { token: instance.version, instance };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const current = itemFromConditionFailure<Instance>(err) ?? await readInstance(table, req.instanceId);
      // Held by this very request: the retry of a request that died holding its Idempotency-Key,
      // racing what that request still did (request ids are otherwise never reused).
      if (current?.claim?.requestId === req.requestId) return { token: current.version, instance: current };
      const refusal = claimRefusal(req, current);
      if (refusal) throw refusal;
      // The read saw a state that admits us: the blocking claim was released in between.
      if (attempt >= CLAIM_ATTEMPTS) {
        throw new Conflict(`Instance ${req.instanceId} is busy; try again`);
      }
    }
  }
}
