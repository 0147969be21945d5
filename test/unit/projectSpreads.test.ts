import { ConfigError, projectSpreads } from '../../functions/core/shared/config.js';
import { spreadOf, UNSPREAD } from '../../functions/core/shared/projectSpread.js';
import { makeTable } from '../../functions/core/shared/table.js';

const spreads = (value: string) => projectSpreads({ TASKGATE_PROJECT_SPREAD: value });

describe('TASKGATE_PROJECT_SPREAD', () => {
  it('is empty when unset, and each count defaults to one key', () => {
    expect(projectSpreads({})).toEqual({});
    expect(spreads('{"busy":{"usageSlices":32}}')).toEqual({ busy: { listingPartitions: 1, usageSlices: 32 } });
    expect(spreads('{"busy":{"listingPartitions":16,"usageSlices":32},"other":{}}'))
      .toEqual({ busy: { listingPartitions: 16, usageSlices: 32 }, other: { listingPartitions: 1, usageSlices: 1 } });
  });

  it.each([
    ['not JSON', '{busy', /must be a JSON object/],
    ['an array', '[]', /must be a JSON object/],
    ['a number for a project', '{"busy":4}', /\["busy"\] must be an object/],
    ['zero', '{"busy":{"usageSlices":0}}', /usageSlices must be an integer from 1 to 64/],
    ['above the most', '{"busy":{"listingPartitions":65}}', /listingPartitions must be an integer from 1 to 64/],
    ['a fraction', '{"busy":{"usageSlices":1.5}}', /usageSlices must be an integer/],
    ['a string count', '{"busy":{"usageSlices":"8"}}', /usageSlices must be an integer/],
    ['an unknown field', '{"busy":{"slices":8}}', /unknown field "slices"/],
    ['a bad project id', '{"a b":{}}', /not a project id/],
  ])('refuses %s, naming the variable', (_, value, message) => {
    expect(() => spreads(value)).toThrow(ConfigError);
    expect(() => spreads(value)).toThrow(message);
    expect(() => spreads(value)).toThrow(/^TASKGATE_PROJECT_SPREAD /);
  });

  it('reaches the table: a named project gets its spread, every other one key of each', () => {
    const table = makeTable('t', undefined, spreads('{"busy":{"listingPartitions":4,"usageSlices":8}}'));
    expect(spreadOf(table, 'busy')).toEqual({ listingPartitions: 4, usageSlices: 8 });
    expect(spreadOf(table, 'quiet')).toBe(UNSPREAD);
    expect(spreadOf(makeTable('t'), 'busy')).toBe(UNSPREAD);
  });
});
