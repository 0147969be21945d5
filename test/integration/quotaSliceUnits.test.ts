import { sliceLoad } from '../../bench/loadModel.js';
import { billSliceCharges, SPREAD_USAGE_SLICES } from '../../bench/writeUnits.js';
import { REFILL_SERVERS } from '../../functions/core/placement/quotas/slices.js';
import { MAX_SPREAD } from '../../functions/core/shared/projectSpread.js';

// A spread project's quota writes, metered by partition key as DynamoDB bills them
// (bench/capacityMeter.ts): a create and a delete leave the counters' key alone but for a refill
// once per REFILL_SERVERS creates, so 10,000 creates (or creates plus deletes) a second in one
// project stay under every key's 1,000 units at 32 slices.

it('a create takes 2 units on its slice and 2 on its charge\'s partition, a refill 2 on the counters, a delete none there', async () => {
  const units = await billSliceCharges();
  expect(units).toEqual({
    take: { slice: 2, charges: 2, counters: 0 },
    refill: { slice: 4, charges: 4, counters: 2 },
    giveBack: { slice: 2, charges: 2, counters: 0 },
  });
  for (const [creates, deletes] of [[10_000, 0], [5_000, 5_000]]) {
    const load = sliceLoad(units, creates!, deletes!, SPREAD_USAGE_SLICES, MAX_SPREAD, REFILL_SERVERS);
    expect(load.filter((l) => l.unitsPerKey >= 1_000)).toEqual([]);
  }
  // The counters' key: 10,000 creates a second refill 250 times.
  expect(sliceLoad(units, 10_000, 0, SPREAD_USAGE_SLICES, MAX_SPREAD, REFILL_SERVERS).find((l) => l.index === 'quota counters')?.unitsPerKey).toBe(500);
}, 60_000);
