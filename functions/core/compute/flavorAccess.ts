import { Conflict, NotFound } from '../shared/errors.js';
import { isConditionFailure, type Table } from '../shared/table.js';
import { updateFlavorItem, type Flavor } from './flavors.js';

// Which projects a private flavor is shared with (nova/api/openstack/compute/flavor_access.py):
// a map on the flavor's item, each project added or removed by ONE conditional write, so a
// second add is Nova's 409 and a remove of an absent one its 404, whoever raced.

export const accessList = (flavor: Flavor): string[] => Object.keys(flavor.access ?? {}).sort();

export async function addTenantAccess(table: Table, flavor: Flavor, projectId: string, refusePublic: boolean): Promise<void> {
  if (refusePublic && flavor.isPublic) throw new Conflict('Can not add access to a public flavor.');
  try {
    await updateFlavorItem(table, flavor, {
      set: 'SET #access.#p = :true', condition: 'attribute_not_exists(#access.#p)',
      names: { '#access': 'access', '#p': projectId }, values: { ':true': true },
    });
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    throw new Conflict(`Flavor access already exists for flavor ${flavor.id} and project ${projectId} combination.`);
  }
}

export async function removeTenantAccess(table: Table, flavor: Flavor, projectId: string): Promise<void> {
  const absent = new NotFound(`Flavor access not found for ${flavor.id} / ${projectId} combination.`);
  try {
    await updateFlavorItem(table, flavor, {
      set: 'REMOVE #access.#p', condition: 'attribute_exists(#access.#p)', names: { '#access': 'access', '#p': projectId },
    });
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    throw absent;
  }
}
