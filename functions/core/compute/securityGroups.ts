import { BadRequest, NotFound } from '../shared/errors.js';
import { DEFAULT_SECURITY_GROUP, type Caller } from './instance.js';
import { changeServerAttribute } from './serverFields.js';
import type { Table } from '../shared/table.js';

// Security groups are Neutron's; taskgate has no Neutron. What exists is the group every Neutron
// project has, `default`, which a server gets unless it is removed. Any other name is answered
// as Nova answers when Neutron finds no such group (SecurityGroupNotFound).

/** The groups a server is created with: `default` unless named; an unknown name is Nova's 400. */
export function requestedSecurityGroups(requested: readonly { name?: string }[] | undefined): string[] {
  const names = [...new Set((requested ?? []).map((g) => g.name ?? DEFAULT_SECURITY_GROUP))];
  for (const name of names) {
    if (name !== DEFAULT_SECURITY_GROUP) throw new BadRequest(`Security group ${name} not found.`);
  }
  return names.length > 0 ? names : [DEFAULT_SECURITY_GROUP];
}

/** addSecurityGroup: Nova's 404 for a group that does not exist; adding one it has changes nothing. */
export async function addSecurityGroup(table: Table, caller: Caller, instanceId: string, name: string): Promise<void> {
  if (name !== DEFAULT_SECURITY_GROUP) throw new NotFound(`Security group ${name} not found.`);
  await changeServerAttribute<string[]>(table, caller, instanceId, 'securityGroups',
    (groups) => (groups.includes(name) ? groups : [...groups, name]));
}

/** removeSecurityGroup: 404 for a group that does not exist, 400 for one the server does not have. */
export async function removeSecurityGroup(table: Table, caller: Caller, instanceId: string, name: string): Promise<void> {
  if (name !== DEFAULT_SECURITY_GROUP) throw new NotFound(`Security group ${name} not found.`);
  await changeServerAttribute<string[]>(table, caller, instanceId, 'securityGroups', (groups) => {
    if (!groups.includes(name)) {
      throw new BadRequest(`Security group ${name} not associated with the instance ${instanceId}`);
    }
    return groups.filter((g) => g !== name);
  });
}
