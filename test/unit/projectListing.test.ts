import { listingKeyOf, listingKeys } from '../../functions/core/shared/projectListing.js';
import { makeTable, shardOf } from '../../functions/core/shared/table.js';

// Where a project's listing entries go (functions/core/shared/projectListing.ts): an ordinary
// project's one key, today's; a spread project's M keys, partition 0 today's key; and no
// partition key of one project is another project's key, whatever its id holds.

const table = makeTable('t', undefined, { p: { listingPartitions: 4, usageSlices: 1 }, q: { listingPartitions: 2, usageSlices: 1 } });
const ids = Array.from({ length: 64 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);

it('an ordinary project lists under its one key, today\'s, whatever the id', () => {
  expect(listingKeys(table, 'PROJECT', 'demo')).toEqual(['PROJECT#demo']);
  expect(listingKeys(table, 'PORTS', 'demo')).toEqual(['PORTS#demo']);
  expect(new Set(ids.map((id) => listingKeyOf(table, 'PROJECT', 'demo', id)))).toEqual(new Set(['PROJECT#demo']));
});

it('a spread project lists each id under partition shardOf(id, M), partition 0 today\'s key, and reads all M', () => {
  expect(listingKeys(table, 'PROJECT', 'p')).toEqual(['PROJECT#p', 'PROJECT1#p', 'PROJECT2#p', 'PROJECT3#p']);
  expect(listingKeys(table, 'PORTS', 'q')).toEqual(['PORTS#q', 'PORTS1#q']);
  for (const id of ids) expect(listingKeyOf(table, 'PROJECT', 'p', id)).toBe(listingKeys(table, 'PROJECT', 'p')[shardOf(id, 4)]);
  expect(new Set(ids.map((id) => listingKeyOf(table, 'PROJECT', 'p', id))).size).toBe(4);
});

it('no partition key of a spread project is the key of a project whose id holds \'#\'', () => {
  const neighbours = ['p#1', 'p#3', '1#p', '3#p', '#p'].flatMap((id) => listingKeys(table, 'PROJECT', id));
  const spread = listingKeys(table, 'PROJECT', 'p');
  expect(neighbours.filter((k) => spread.includes(k))).toEqual([]);
});
