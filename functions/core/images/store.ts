import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Conflict } from '../shared/errors.js';
import { fencedPut, type ClaimFence, type ConditionalPut } from '../shared/fencedPut.js';
import { isConditionFailure, keys, type Table } from '../shared/table.js';
import { DEFAULT_IMAGES, type Image } from './image.js';

// Images in the table: one partition (IMAGES, sort key IMAGE#<id>), read together as flavors
// are; the built-in images (image.ts) until a write overrides them. Every write is one
// conditional Put: a create only where no item is, a change only on the version it read, so
// two requests never both change one image from the same state; a writer that loses reads
// again and redoes its change on what won.

const PARTITION = keys.image('').pk;
const BUILT_IN = new Map(DEFAULT_IMAGES.map((image) => [image.id, image]));

type ImageItem = Image & { pk?: string; sk?: string };

const fromItem = ({ pk: _pk, sk: _sk, ...image }: ImageItem): Image => image;

/** Every image, deleted ones included, built-in ones overridden by their items. */
export async function allImages(table: Table): Promise<Image[]> {
  const byId = new Map(BUILT_IN);
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': PARTITION },
      ConsistentRead: true, ExclusiveStartKey: start,
    }));
    for (const item of (out.Items ?? []) as ImageItem[]) byId.set(item.id, fromItem(item));
    start = out.LastEvaluatedKey;
  } while (start);
  return [...byId.values()];
}

/** The image with this id as last written (deleted ones too), or the built-in one. */
export async function readImage(table: Table, id: string): Promise<Image | undefined> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: keys.image(id), ConsistentRead: true }));
  return out.Item ? fromItem(out.Item as ImageItem) : BUILT_IN.get(id);
}

// Server create and rebuild check their image on every request, and images change seldom: each
// process keeps the list for a few seconds, so admission stays at one write and no read. An id
// the cached list lacks is read again before it is refused (an image just made elsewhere is
// found at once); an image deleted or changed elsewhere may still be taken as it was for up to
// IMAGE_CACHE_MS (Nova has the same window between its image check and the build).
const IMAGE_CACHE_MS = 10_000;
const cache = new Map<string, { readonly until: number; readonly images: Promise<Map<string, Image>> }>();

function cachedImages(table: Table, now: number): Promise<Map<string, Image>> {
  const hit = cache.get(table.name);
  if (hit && hit.until > now) return hit.images;
  const images = allImages(table).then((list) => new Map(list.map((image) => [image.id, image])));
  cache.set(table.name, { until: now + IMAGE_CACHE_MS, images });
  images.catch(() => cache.delete(table.name));
  return images;
}

/** The image for a server to boot (deleted ones too: the caller decides), as read at most IMAGE_CACHE_MS ago. */
export async function findImageToBoot(table: Table, id: string, now = Date.now()): Promise<Image | undefined> {
  const found = (await cachedImages(table, now)).get(id);
  if (found) return found;
  cache.delete(table.name);
  return (await cachedImages(table, now)).get(id);
}

const forget = (table: Table) => cache.delete(table.name);

/** One conditional Put; with a fence, only while that claim holds (a worker's write: FencedOut once it does not). */
async function putImage(table: Table, put: ConditionalPut, fence?: ClaimFence): Promise<void> {
  if (fence) return fencedPut(table, fence, put);
  await table.db.send(new PutCommand({
    TableName: table.name, Item: put.item, ConditionExpression: put.condition,
    ExpressionAttributeNames: put.names, ExpressionAttributeValues: put.values,
  }));
}

/**
 * Writes a new image where there is none: no item and no built-in image by its id (Glance never
 * reuses an id, a deleted image's included). False when the id is taken; `existing` then says by what.
 * `fence`: the claim of the worker writing it (the API's write has none).
 */
export async function putNewImage(
  table: Table, image: Image, fence?: ClaimFence,
): Promise<{ written: true } | { written: false; existing?: Image }> {
  if (BUILT_IN.has(image.id)) return { written: false, existing: await readImage(table, image.id) };
  try {
    await putImage(table, { item: { ...keys.image(image.id), ...image }, condition: 'attribute_not_exists(pk)' }, fence);
  } catch (err) {
    if (isConditionFailure(err)) return { written: false, existing: await readImage(table, image.id) };
    throw err;
  }
  forget(table);
  return { written: true };
}

/** How often a change is redone on a newer version before the request gives up with 409. */
const ATTEMPTS = 8;

/**
 * Changes one image: reads it, lets `change` compute the new record (or refuse, or return the
 * image unchanged to write nothing), and writes it only if the image is still the version read,
 * one conditional Put; a lost race reads again and runs `change` again on what won. `fence`: the
 * claim of the worker changing it, which must still hold when the Put lands.
 */
export async function changeImage(
  table: Table, id: string, change: (current: Image | undefined) => Image | Promise<Image>, fence?: ClaimFence,
): Promise<Image> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = await readImage(table, id);
    const next = await change(current);
    if (next === current) return next;
    if (!current) throw new Error(`change of image ${id} made one out of nothing`);
    const written: Image = { ...next, version: current.version + 1 };
    try {
      await putImage(table, {
        item: { ...keys.image(id), ...written },
        // A built-in image's first change: no item yet, and only one writer may make it.
        ...(current.version === 0
          ? { condition: 'attribute_not_exists(pk)' }
          : { condition: '#version = :read', names: { '#version': 'version' }, values: { ':read': current.version } }),
      }, fence);
      forget(table);
      return written;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
  throw new Conflict(`Image ${id} kept changing while this request tried to change it; nothing was changed. Please retry.`);
}
