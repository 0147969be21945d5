import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { IndexDefinition, KeyAttribute } from '../functions/core/shared/table.js';

// What DynamoDB bills for one request, from AWS's documented rules rather than from what an
// emulator reports (dynalite reports no index units for a write, and nothing for a failed one):
// - an item's size is the UTF-8 length of its attribute names plus its values (a number: 1 byte
//   per two significant digits plus 1; null and boolean: 1; a list or map: 3 plus 1 per element);
//   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
// - a write costs 1 unit per KB, rounded up, of the larger of the item before and after; a write
//   whose condition fails still costs the existing item's size (at least 1);
// - a global secondary index costs a write per index whose entry (keys and projected attributes)
//   changes: a put when the item enters it, a delete when it leaves, a delete and a put when its
//   index key changes, nothing when its entry is the same before and after;
//   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes
// - a read costs 1 unit per 4 KB, rounded up (half for an eventually consistent one).

export type Item = Record<string, AttributeValue>;

export interface TableShape {
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  readonly indexes: readonly IndexDefinition[];
}

export interface WriteUnits {
  readonly table: number;
  /** Units per index, only the indexes written. */
  readonly indexes: Readonly<Record<string, number>>;
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** A number's stored size: its significant digits, two to a byte, plus one. */
function numberSize(n: string): number {
  const digits = n.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length === 0 ? 1 : Math.ceil(digits.length / 2) + 1;
}

export function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((a, s) => a + utf8(s), 0);
  if (v.NS) return v.NS.reduce((a, s) => a + numberSize(s), 0);
  if (v.BS) return v.BS.reduce((a, b) => a + b.byteLength, 0);
  if (v.L) return 3 + v.L.reduce((a, e) => a + 1 + valueSize(e), 0);
  if (v.M) return 3 + Object.entries(v.M).reduce((a, [k, e]) => a + 1 + utf8(k) + valueSize(e), 0);
  throw new Error(`unknown attribute value ${JSON.stringify(v)}`);
}

export function itemSize(item: Item): number {
  return Object.entries(item).reduce((a, [name, v]) => a + utf8(name) + valueSize(v), 0);
}

const kb = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

const typeOf = (v: AttributeValue | undefined) => (v?.S !== undefined ? 'S' : v?.N !== undefined ? 'N' : undefined);

/** The item's entry in `index`: undefined when it lacks either index key (a sparse index leaves it out). */
export function indexEntry(shape: TableShape, index: IndexDefinition, item: Item | undefined): Item | undefined {
  if (!item) return undefined;
  for (const key of [index.partitionKey, index.sortKey]) if (typeOf(item[key.name]) !== key.type) return undefined;
  if (index.projection === 'ALL') return item;
  const names = [shape.partitionKey.name, shape.sortKey.name, index.partitionKey.name, index.sortKey.name];
  return Object.fromEntries(names.map((n) => [n, item[n]!]));
}

/** Attribute values compared as DynamoDB does: sets as sets, maps whatever their key order. */
function sameValue(a: AttributeValue, b: AttributeValue): boolean {
  const [ta, tb] = [Object.keys(a)[0]!, Object.keys(b)[0]!];
  if (ta !== tb) return false;
  const va = (a as unknown as Record<string, unknown>)[ta];
  const vb = (b as unknown as Record<string, unknown>)[tb];
  if (ta === 'M') return sameItem(va as Item, vb as Item);
  if (ta === 'L') return (va as AttributeValue[]).length === (vb as AttributeValue[]).length && (va as AttributeValue[]).every((e, i) => sameValue(e, (vb as AttributeValue[])[i]!));
  if (ta === 'SS' || ta === 'NS') return [...(va as string[])].sort().join('\u0000') === [...(vb as string[])].sort().join('\u0000');
  if (ta === 'B') return Buffer.compare(Buffer.from(va as Uint8Array), Buffer.from(vb as Uint8Array)) === 0;
  return va === vb;
}

export function sameItem(a: Item, b: Item): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] !== undefined && sameValue(a[k]!, b[k]!));
}

/** What a successful write that turned `before` into `after` costs (undefined: no item). */
export function writeUnits(shape: TableShape, before: Item | undefined, after: Item | undefined): WriteUnits {
  const table = kb(Math.max(before ? itemSize(before) : 0, after ? itemSize(after) : 0));
  const indexes: Record<string, number> = {};
  for (const w of indexKeyWrites(shape, before, after)) indexes[w.index] = (indexes[w.index] ?? 0) + w.units;
  return { table, indexes };
}

export interface IndexKeyWrite {
  readonly index: string;
  /** The index partition key the units land on (the key a DynamoDB partition's limit is about). */
  readonly key: string;
  readonly units: number;
}

/** The same write's index units, by the index partition key each lands on: an entry moved between keys is billed on both. */
export function indexKeyWrites(shape: TableShape, before: Item | undefined, after: Item | undefined): IndexKeyWrite[] {
  const writes: IndexKeyWrite[] = [];
  for (const index of shape.indexes) {
    const old = indexEntry(shape, index, before);
    const now = indexEntry(shape, index, after);
    const on = (entry: Item, units: number) => writes.push({ index: index.name, key: String(Object.values(entry[index.partitionKey.name]!)[0]), units });
    if (old && now) {
      const keyMoved = [index.partitionKey, index.sortKey].some((k) => !sameValue(old[k.name]!, now[k.name]!));
      if (keyMoved) {
        on(old, kb(itemSize(old)));
        on(now, kb(itemSize(now)));
      } else if (!sameItem(old, now)) on(now, kb(Math.max(itemSize(old), itemSize(now))));
    } else if (old || now) {
      on((old ?? now)!, kb(itemSize((old ?? now)!)));
    }
  }
  return writes;
}

/** A write whose condition failed: the existing item's size, at least 1 unit; no index is touched. */
export function refusedWriteUnits(existing: Item | undefined): WriteUnits {
  return { table: kb(existing ? itemSize(existing) : 0), indexes: {} };
}

/** A read of `items` as one response (a GetItem, a Query's page): 4 KB a unit, half if eventually consistent. */
export function readUnits(items: readonly Item[], consistent: boolean): number {
  const units = Math.max(1, Math.ceil(items.reduce((a, i) => a + itemSize(i), 0) / 4096));
  return consistent ? units : units / 2;
}

export const totalWriteUnits = (w: WriteUnits) => w.table + Object.values(w.indexes).reduce((a, b) => a + b, 0);
