import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { itemsOf } from '../../functions/core/shared/indexedItems.js';
import type { Table } from '../../functions/core/shared/table.js';

// A listing's items read after its index's keys (functions/core/shared/indexedItems.ts). What no
// emulator produces (keys DynamoDB leaves unprocessed, a batch over 100 keys answered in its own
// order) is played by a fake client here; the real path runs in the integration tests.

const key = (n: number) => ({ pk: `INSTANCE#${n}`, sk: 'META' });

/** A table whose BatchGetItem answers from `items`, in reverse, leaving the first `unprocessed` keys of its first answer for later. */
function fakeTable(items: Map<string, Record<string, unknown>>, unprocessed: number) {
  const batches: number[] = [];
  let first = true;
  const send = async (command: BatchGetCommand) => {
    const keys = command.input.RequestItems!.t!.Keys! as { pk: string; sk: string }[];
    batches.push(keys.length);
    const left = first ? keys.slice(0, unprocessed) : [];
    first = false;
    const answered = keys.slice(left.length).map((k) => items.get(k.pk)).filter(Boolean).reverse();
    return { Responses: { t: answered }, UnprocessedKeys: left.length > 0 ? { t: { Keys: left } } : {} };
  };
  return { table: { name: 't', db: { send } } as unknown as Table, batches };
}

it('reads every key, in the index\'s order, asking again for what DynamoDB left unprocessed', async () => {
  const items = new Map(Array.from({ length: 5 }, (_, n) => [`INSTANCE#${n}`, { ...key(n), n }]));
  const { table, batches } = fakeTable(items, 2);
  const read = await itemsOf<{ n: number }>(table, [4, 0, 3, 1, 2].map(key));
  expect(read.map((i) => i.n)).toEqual([4, 0, 3, 1, 2]);
  expect(batches).toEqual([5, 2]);
});

it('leaves out an entry whose item is gone (the index lags the table)', async () => {
  const items = new Map([[`INSTANCE#1`, { ...key(1), n: 1 }]]);
  const { table } = fakeTable(items, 0);
  expect(await itemsOf(table, [key(0), key(1)])).toEqual([{ ...key(1), n: 1 }]);
});

it('asks for at most 100 keys a request', async () => {
  const items = new Map(Array.from({ length: 250 }, (_, n) => [`INSTANCE#${n}`, { ...key(n), n }]));
  const { table, batches } = fakeTable(items, 0);
  expect(await itemsOf(table, Array.from({ length: 250 }, (_, n) => key(n)))).toHaveLength(250);
  expect(batches).toEqual([100, 100, 50]);
});
