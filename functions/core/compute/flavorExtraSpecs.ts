import { BadRequest, NotFound } from '../shared/errors.js';
import { isConditionFailure, type Table } from '../shared/table.js';
import { updateFlavorItem, type Flavor } from './flavors.js';

// A flavor's extra specs (nova/api/openstack/compute/flavors_extraspecs.py), a map on the
// flavor's item written key by key: a create merges its keys in ONE update, so two admins
// setting different keys at once both land, and a delete removes one key only if it is there.

/** Nova takes numbers as values, keeps them as strings, and bounds them at 255 characters. */
export function specValues(specs: Record<string, string | number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(specs)) {
    const text = String(value);
    if (text.length > 255) throw new BadRequest(`Invalid input received: extra_specs value has more than 255 characters.`);
    out[key] = text;
  }
  return out;
}

/** Merge `specs` into the flavor's: one write. */
export async function setExtraSpecs(table: Table, flavor: Flavor, specs: Record<string, string>): Promise<void> {
  const entries = Object.entries(specs);
  if (entries.length === 0) return;
  await updateFlavorItem(table, flavor, {
    set: `SET ${entries.map((_, i) => `#specs.#k${i} = :v${i}`).join(', ')}`,
    names: { '#specs': 'extraSpecs', ...Object.fromEntries(entries.map(([k], i) => [`#k${i}`, k])) },
    values: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
  });
}

const missing = (flavorId: string, key: string) => new NotFound(`Flavor ${flavorId} has no extra specs with key ${key}.`);

export function extraSpec(flavor: Flavor, key: string): string {
  const specs = flavor.extraSpecs ?? {};
  if (!Object.hasOwn(specs, key)) throw missing(flavor.id, key);
  return specs[key]!;
}

/** Remove one key: one write, conditioned on the key being there (Nova's 404 otherwise). */
export async function deleteExtraSpec(table: Table, flavor: Flavor, key: string): Promise<void> {
  if (!Object.hasOwn(flavor.extraSpecs ?? {}, key)) throw missing(flavor.id, key);
  try {
    await updateFlavorItem(table, flavor, {
      set: 'REMOVE #specs.#key', condition: 'attribute_exists(#specs.#key)', names: { '#specs': 'extraSpecs', '#key': key },
    });
  } catch (err) {
    if (isConditionFailure(err)) throw missing(flavor.id, key);
    throw err;
  }
}
