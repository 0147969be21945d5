import { dbDatetime, isotime } from '../../functions/api/timestamps.js';

// Nova spells times two ways; clients parse them as spelled.

it('spells created/updated as utils.isotime does: seconds and Z', () => {
  expect(isotime('2026-11-25T02:33:54.123Z')).toBe('2026-11-25T02:33:54Z');
});

it('spells action and launch times as oslo serialises datetimes: microseconds, no zone', () => {
  expect(dbDatetime('2026-11-25T02:33:54.123Z')).toBe('2026-11-25T02:33:54.123000');
  expect(dbDatetime('2026-11-25T02:33:54.5Z')).toBe('2026-11-25T02:33:54.500000');
  expect(dbDatetime('2026-11-25T02:33:54Z')).toBe('2026-11-25T02:33:54.000000');
  expect(dbDatetime(undefined)).toBeNull();
});
