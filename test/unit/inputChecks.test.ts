import { nameFilter } from '../../functions/api/nameFilter.js';
import { excerpt } from '../../functions/api/excerpt.js';
import { validPathParameter } from '../../functions/api/parameters.js';
import { BadRequest, NotFound } from '../../functions/core/shared/errors.js';
import { canonicalUuid, isUuid } from '../../functions/core/shared/ids.js';

// The small checks every request goes through: UUID spellings, path ids, the name filter, and
// how much of a client's value an error repeats.

describe('canonicalUuid', () => {
  const id = '5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61';
  it.each([id, id.toUpperCase(), id.replaceAll('-', ''), id.replaceAll('-', '').toUpperCase()])('%s -> lower case, hyphenated', (spelling) => {
    expect(isUuid(spelling)).toBe(true);
    expect(canonicalUuid(spelling)).toBe(id);
  });
  it.each(['', 'vol-1', `${id}0`, `{${id}}`, id.slice(1)])('%s is no UUID and stays as it is', (value) => {
    expect(isUuid(value)).toBe(false);
    expect(canonicalUuid(value)).toBe(value);
  });
});

describe('path parameters', () => {
  it('decodes, checks and canonicalizes', () => {
    expect(validPathParameter('server_id', '5F1C2F0E8C554A439C341F2D0A3B7E61')).toBe('5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61');
    expect(validPathParameter('flavor_id', 'm1.tiny')).toBe('m1.tiny');
    expect(validPathParameter('flavor_id', 'm1%20tiny')).toBe('m1 tiny');
  });
  it.each([
    ['server_id', '%2e%2e'], ['server_id', '..'], ['volume_id', '%2F'], ['port_id', '%ZZ'],
    ['flavor_id', ' leading'], ['request_id', 'req-1'], ['key', 'a/b'],
  ])('%s %s is a 404', (name, raw) => {
    expect(() => validPathParameter(name, raw)).toThrow(NotFound);
  });
});

describe('nameFilter', () => {
  it('matches as a regular expression search, like Nova\'s REGEXP', async () => {
    expect((await nameFilter('web'))('my-web-1')).toBe(true);
    expect((await nameFilter('^web'))('my-web-1')).toBe(false);
    expect((await nameFilter(''))('anything')).toBe(true);
  });
  it('answers a pattern that backtracks exponentially elsewhere, on Nova\'s longest name', async () => {
    expect((await nameFilter('(a*)*$'))(`${'a'.repeat(254)}!`)).toBe(true);
    expect((await nameFilter('^(a|a)*$'))(`${'a'.repeat(254)}!`)).toBe(false);
  });
  it.each(['(a', '(a)\\1', '(?=a)', '(?<=a)b', 'a{1001}', 'x'.repeat(256)])('refuses %s with a 400', async (pattern) => {
    await expect(nameFilter(pattern)).rejects.toThrow(BadRequest);
  });
});

it('an excerpt is at most 64 characters and a marker', () => {
  expect(excerpt('short')).toBe('short');
  expect(excerpt('x'.repeat(10_000))).toBe(`${'x'.repeat(64)}...`);
  expect(excerpt({ a: 1 })).toBe('{"a":1}');
});
