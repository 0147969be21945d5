import { marshall } from '@aws-sdk/util-dynamodb';
import { indexKeyWrites, itemSize, readUnits, refusedWriteUnits, totalWriteUnits, writeUnits, type Item, type TableShape } from '../../../bench/billing.js';
import { sqsRequestsOf } from '../../../bench/capacityMeter.js';
import { TABLE_DEFINITION } from '../../../functions/core/shared/table.js';

// The bench's bill follows AWS's documented rules (bench/billing.ts); each rule here on an item
// shaped like taskgate's instance, on its table as it was before issue 23 (both list indexes
// projecting ALL, the lease index KEYS_ONLY), so that both projections are exercised.
const ALL_LISTINGS: TableShape = {
  ...TABLE_DEFINITION,
  indexes: TABLE_DEFINITION.indexes.map((i) => (i.name === 'byLease' ? i : { ...i, projection: 'ALL' as const })),
};

const item = (fields: Record<string, unknown>): Item => marshall(fields, { removeUndefinedValues: true }) as Item;
const server = (extra: Record<string, unknown> = {}) => item({
  pk: 'INSTANCE#1', sk: 'META', name: 'vm', gsi1pk: 'PROJECT#p', gsi1sk: '2026#1', gsi2pk: 'SERVERS#1', gsi2sk: '2026#1', ...extra,
});

describe('item size', () => {
  it('counts names and values as AWS documents: UTF-8 strings, numbers by significant digits, containers 3 + 1 per element', () => {
    expect(itemSize(item({ ab: 'xyz' }))).toBe(2 + 3);
    expect(itemSize(item({ é: 'é' }))).toBe(2 + 2); // two bytes each in UTF-8
    expect(itemSize(item({ n: 12345 }))).toBe(1 + 3 + 1); // 5 digits: 3 bytes, plus 1
    expect(itemSize(item({ n: 1000 }))).toBe(1 + 1 + 1); // trailing zeros trimmed
    expect(itemSize(item({ b: true, z: null }))).toBe(1 + 1 + 1 + 1);
    expect(itemSize(item({ l: ['a', 'bc'] }))).toBe(1 + 3 + (1 + 1) + (1 + 2));
    expect(itemSize(item({ m: { k: 'v' } }))).toBe(1 + 3 + (1 + 1 + 1));
  });
});

describe('write units', () => {
  it('a new item costs its size in KB, rounded up, once in the table and once in each index it enters', () => {
    const w = writeUnits(ALL_LISTINGS, undefined, server({ pad: 'x'.repeat(1100) }));
    expect(w).toEqual({ table: 2, indexes: { byProject: 2, allServers: 2 } }); // not byLease: no leaseShard
  });

  it('the larger of the old and the new item decides', () => {
    const big = server({ pad: 'x'.repeat(2900) }); // about 2,990 bytes
    expect(writeUnits(ALL_LISTINGS, big, server()).table).toBe(3);
    expect(writeUnits(ALL_LISTINGS, server(), big).table).toBe(3);
  });

  it('an attribute change writes every ALL index again, and a KEYS_ONLY index not at all', () => {
    const claimed = server({ leaseShard: 'LEASE#1', leaseUntil: 100 });
    expect(writeUnits(ALL_LISTINGS, claimed, { ...claimed, name: item({ s: 'renamed' }).s! }))
      .toEqual({ table: 1, indexes: { byProject: 1, allServers: 1 } });
  });

  it('entering a sparse index is a put, leaving it a delete, moving its key a delete and a put', () => {
    const idle = server();
    const claimed = server({ leaseShard: 'LEASE#1', leaseUntil: 100 });
    expect(writeUnits(ALL_LISTINGS, idle, claimed).indexes.byLease).toBe(1);
    expect(writeUnits(ALL_LISTINGS, claimed, idle).indexes.byLease).toBe(1);
    expect(writeUnits(ALL_LISTINGS, claimed, server({ leaseShard: 'LEASE#1', leaseUntil: 200 })).indexes.byLease).toBe(2);
  });

  it('a write that changes nothing in an index costs that index nothing; the table still pays 1', () => {
    expect(writeUnits(ALL_LISTINGS, server(), server())).toEqual({ table: 1, indexes: {} });
    const action = item({ pk: 'INSTANCE#1', sk: 'ACTION#r' });
    expect(writeUnits(ALL_LISTINGS, undefined, action)).toEqual({ table: 1, indexes: {} });
  });

  it('deleting an item costs its size in the table and each index it was in', () => {
    const w = writeUnits(ALL_LISTINGS, server({ pad: 'x'.repeat(1500) }), undefined);
    expect(w).toEqual({ table: 2, indexes: { byProject: 2, allServers: 2 } });
    expect(totalWriteUnits(w)).toBe(6);
  });

  it('a refused write costs the existing item\'s size, at least 1, and no index', () => {
    expect(refusedWriteUnits(server({ pad: 'x'.repeat(2100) }))).toEqual({ table: 3, indexes: {} });
    expect(refusedWriteUnits(undefined)).toEqual({ table: 1, indexes: {} });
  });

  it('by index key: an entry\'s units land on its partition key, a moved entry\'s on the old key and the new', () => {
    const claimed = server({ leaseShard: 'LEASE#1', leaseUntil: 100 });
    expect(indexKeyWrites(ALL_LISTINGS, undefined, claimed).map((w) => `${w.index} ${w.key} ${w.units}`).sort())
      .toEqual(['allServers SERVERS#1 1', 'byLease LEASE#1 1', 'byProject PROJECT#p 1']);
    expect(indexKeyWrites(ALL_LISTINGS, claimed, server({ leaseShard: 'LEASE#7', leaseUntil: 100 })).filter((w) => w.index === 'byLease'))
      .toEqual([{ index: 'byLease', key: 'LEASE#1', units: 1 }, { index: 'byLease', key: 'LEASE#7', units: 1 }]);
  });
});

describe('read units and SQS requests', () => {
  it('a read costs 4 KB a unit, half when eventually consistent', () => {
    expect(readUnits([server()], true)).toBe(1);
    expect(readUnits([server({ pad: 'x'.repeat(5000) })], false)).toBe(1);
    expect(readUnits([], true)).toBe(1);
  });

  it('SQS bills a request per 64 KB chunk of its payload', () => {
    expect(sqsRequestsOf('SendMessage', { MessageBody: 'x'.repeat(100) }, {})).toBe(1);
    expect(sqsRequestsOf('SendMessage', { MessageBody: 'x'.repeat(65 * 1024) }, {})).toBe(2);
    expect(sqsRequestsOf('ReceiveMessage', {}, { Messages: [] })).toBe(1);
    expect(sqsRequestsOf('DeleteMessageBatch', { Entries: [{}, {}] }, {})).toBe(1);
  });
});
