import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isVisibleTo, type Caller } from './instance.js';
import { readInstance } from './readInstance.js';
import { NotFound } from '../shared/errors.js';
import { isConditionFailure, keys, type Table } from '../shared/table.js';

// os-server-password (nova/api/openstack/compute/server_password.py): the password a guest
// posted, encrypted with its key pair, to the metadata service. taskgate serves no metadata
// service, so no guest ever posts one and the password is always '' until one is; clearing it
// removes what there is (Nova's "this does not actually change the instance server password").

/** Where the posted password would be kept on the instance item. */
const FIELD = 'serverPassword';

const notFound = (id: string) => new NotFound(`Instance ${id} could not be found.`);

export async function serverPassword(table: Table, caller: Caller, instanceId: string): Promise<string> {
  const instance = await readInstance(table, instanceId);
  if (!isVisibleTo(instance, caller)) throw notFound(instanceId);
  const value = (instance as unknown as Record<string, unknown>)[FIELD];
  return typeof value === 'string' ? value : '';
}

/** One conditional write: a server the caller sees, not deleted; another project's is 404. */
export async function clearServerPassword(table: Table, caller: Caller, instanceId: string): Promise<void> {
  const owned = caller.isAdmin ? '' : ' AND #proj = :proj';
  try {
    await table.db.send(new UpdateCommand({
      TableName: table.name, Key: keys.instance(instanceId),
      UpdateExpression: 'REMOVE #pw',
      ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(#deleted)${owned}`,
      ExpressionAttributeNames: { '#pw': FIELD, '#deleted': 'deleted', ...(caller.isAdmin ? {} : { '#proj': 'projectId' }) },
      ...(caller.isAdmin ? {} : { ExpressionAttributeValues: { ':proj': caller.projectId } }),
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw notFound(instanceId);
    throw err;
  }
}

