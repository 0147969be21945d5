import { groupByName, allGroups } from '../networks/securityGroups.js';
import { BadRequest, NotFound } from '../shared/errors.js';
import { readInstance } from './readInstance.js';
import { DEFAULT_SECURITY_GROUP, type Caller } from './instance.js';
import { changeServerAttribute } from './serverFields.js';
import type { Table } from '../shared/table.js';

// A server's security groups, as Nova keeps them: names of the project's Neutron groups
// (functions/core/networks/securityGroups.ts), `default` unless others are named. A name (or id)
// Neutron does not know is answered as Nova answers Neutron's SecurityGroupNotFound.

/** The project's group named (or with the id) `wanted`, `default` made if need be. */
async function projectGroup(table: Table, projectId: string, wanted: string) {
  return await groupByName(table, projectId, wanted)
    ?? (await allGroups(table)).find((g) => g.projectId === projectId && g.id === wanted);
}

/** The groups a server is created with: `default` unless named; an unknown one is Nova's 400. */
export async function requestedSecurityGroups(
  table: Table, projectId: string, requested: readonly { name?: string }[] | undefined,
): Promise<string[]> {
  const wanted = [...new Set((requested ?? []).map((g) => g.name ?? DEFAULT_SECURITY_GROUP))];
  const names: string[] = [];
  for (const name of wanted) {
    const group = name === DEFAULT_SECURITY_GROUP ? { name } : await projectGroup(table, projectId, name);
    if (!group) throw new BadRequest(`Security group ${name} not found.`);
    if (!names.includes(group.name)) names.push(group.name);
  }
  return names.length > 0 ? names : [DEFAULT_SECURITY_GROUP];
}

/** The server's project: an administrator may act on another project's server. */
async function serverProject(table: Table, caller: Caller, instanceId: string): Promise<string> {
  return caller.isAdmin ? (await readInstance(table, instanceId))?.projectId ?? caller.projectId : caller.projectId;
}

/** addSecurityGroup: Nova's 404 for a group that does not exist; adding one it has changes nothing. */
export async function addSecurityGroup(table: Table, caller: Caller, instanceId: string, name: string): Promise<void> {
  const group = await projectGroup(table, await serverProject(table, caller, instanceId), name);
  if (!group) throw new NotFound(`Security group ${name} not found.`);
  await changeServerAttribute<string[]>(table, caller, instanceId, 'securityGroups',
    (groups) => (groups.includes(group.name) ? groups : [...groups, group.name]));
}

/** removeSecurityGroup: 404 for a group that does not exist, 400 for one the server does not have. */
export async function removeSecurityGroup(table: Table, caller: Caller, instanceId: string, name: string): Promise<void> {
  const group = await projectGroup(table, await serverProject(table, caller, instanceId), name);
  if (!group) throw new NotFound(`Security group ${name} not found.`);
  await changeServerAttribute<string[]>(table, caller, instanceId, 'securityGroups', (groups) => {
    if (!groups.includes(group.name)) {
      throw new BadRequest(`Security group ${name} not associated with the instance ${instanceId}`);
    }
    return groups.filter((g) => g !== group.name);
  });
}
