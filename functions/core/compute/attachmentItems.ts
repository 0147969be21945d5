import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { itemsOf } from '../shared/indexedItems.js';
import { FencedOut } from '../shared/errors.js';
import { fencedPut } from '../shared/fencedPut.js';
import { isConditionFailure, keys, type Table } from '../shared/table.js';
import type { Attachment, AttachmentEntry, AttachmentMap, Instance } from './instance.js';

// A server's attachments (a volume's block-device mapping, a port's interface) are items of their
// own in the instance's partition, beside its META item, so that the item every claim, release
// and refusal is billed for stays under 1 KB (docs/write-units.md). The instance item keeps one
// entry per attachment in its `volumes` and `ports` maps: the volume's device, or true for a
// port. The entry is what makes the attachment: the fenced release sets and removes it as before,
// so admission's checks (a detach's guard, the next free device) and a delete's list of what to
// free read the instance item alone. The details are written before the release that sets the
// entry (fenced by the claim, as a worker's image write is) and removed after the one that takes
// it off, and a reader shows only the details an entry names: details whose release never came
// are never shown. Each detail item carries the token of the claim that wrote it (the instance's
// version then, which only grows), and neither a put nor a removal lands on an item a later claim
// wrote: a late removal cannot undo a later attachment of the same resource. Items the previous version wrote hold the whole
// attachment in the map entry: they are read as they are.

/** Where attachment items sort in the instance's partition: between its ACTION# items and its META item. */
const ATTACHMENT_PREFIX = 'ATTACHMENT#';

export const attachmentKey = (instanceId: string, map: AttachmentMap, id: string) =>
  ({ pk: keys.instance(instanceId).pk, sk: `${ATTACHMENT_PREFIX}${map}#${id}` });

/** What the instance item itself keeps of an attachment. */
export const entryOf = (map: AttachmentMap, attachment: Attachment): AttachmentEntry =>
  (map === 'volumes' && attachment.device ? attachment.device : true);

/** The attachment an entry of the instance item stands for, as far as the item itself tells. */
export function attachmentFrom(instanceId: string, id: string, entry: AttachmentEntry): Attachment {
  if (typeof entry === 'object') return entry;
  return { id, instanceId, ...(typeof entry === 'string' ? { device: entry } : {}) };
}

/** Its details as stored: keyed beside the instance, with the token of the claim that made it. */
const attachmentItem = (map: AttachmentMap, attachment: Attachment, token: number) =>
  ({ ...attachmentKey(attachment.instanceId, map, attachment.id), ...attachment, token });

/** Not over the details a later claim wrote (the same resource attached again since). */
const NOT_LATER = { condition: 'attribute_not_exists(pk) OR #token <= :token', names: { '#token': 'token' } };

/**
 * The details of an attachment a worker's claim at `token` makes, before its release sets the
 * entry: fenced by the claim (fencedPut.ts), so a worker taken over writes nothing. False when
 * fenced out (its release would be refused too).
 */
export async function putAttachmentItem(table: Table, map: AttachmentMap, attachment: Attachment, token: number): Promise<boolean> {
  try {
    await fencedPut(table, { instanceId: attachment.instanceId, token }, {
      item: attachmentItem(map, attachment, token), ...NOT_LATER, values: { ':token': token },
    });
    return true;
  } catch (err) {
    if (err instanceof FencedOut) return false;
    // A later claim's details hold the key: this claim is superseded, and its release will be refused.
    if (isConditionFailure(err)) return true;
    throw err;
  }
}

/**
 * The details of the ports a create's item will hold, written by admission before that item (its
 * first claim, token 1): nothing to fence on yet, and nothing shows them until the item is there.
 */
export async function putCreatedAttachmentItem(table: Table, map: AttachmentMap, attachment: Attachment, token: number): Promise<void> {
  try {
    await table.db.send(new PutCommand({
      TableName: table.name, Item: attachmentItem(map, attachment, token), ConditionExpression: NOT_LATER.condition,
      ExpressionAttributeNames: NOT_LATER.names, ExpressionAttributeValues: { ':token': token },
    }));
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}

/** The details of an attachment the claim at `token` (or an earlier one) made, after the release that took its entry off. */
export async function removeAttachmentItem(table: Table, instanceId: string, map: AttachmentMap, id: string, token: number): Promise<void> {
  try {
    await table.db.send(new DeleteCommand({
      TableName: table.name, Key: attachmentKey(instanceId, map, id),
      ConditionExpression: '#token <= :token',
      ExpressionAttributeNames: { '#token': 'token' }, ExpressionAttributeValues: { ':token': token },
    }));
  } catch (err) {
    // Gone already, or written by a later claim (the same resource attached again): not ours.
    if (!isConditionFailure(err)) throw err;
  }
}

type Stored = Record<string, unknown> & { pk: string; sk: string };

const MAPS: readonly AttachmentMap[] = ['volumes', 'ports'];

/** The entries of an instance item whose details are on items of their own. */
function detailKeys(instance: Instance): { pk: string; sk: string }[] {
  return MAPS.flatMap((map) => Object.entries(instance[map] ?? {})
    .filter(([, entry]) => typeof entry !== 'object')
    .map(([id]) => attachmentKey(instance.id, map, id)));
}

/** The instance with each entry of its maps replaced by the attachment's details (an entry without details: what it tells). */
function joined(instance: Instance, details: readonly Stored[]): Instance {
  const bySortKey = new Map(details.map((d) => [d.sk, d]));
  const out: Record<string, unknown> = { ...instance };
  for (const map of MAPS) {
    const entries = instance[map];
    if (!entries) continue;
    out[map] = Object.fromEntries(Object.entries(entries).map(([id, entry]) => {
      const stored = typeof entry === 'object' ? undefined : bySortKey.get(attachmentKey(instance.id, map, id).sk);
      if (!stored) return [id, attachmentFrom(instance.id, id, entry)];
      const { pk: _pk, sk: _sk, token: _token, ...attachment } = stored;
      return [id, attachment as unknown as Attachment];
    }));
  }
  return out as unknown as Instance;
}

/**
 * The instance and its attachments' details in ONE consistent Query of its partition (its
 * attachment items sort just before its META item). Undefined when there is no instance item.
 */
export async function readServer(table: Table, instanceId: string): Promise<Instance | undefined> {
  const items: Stored[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, ConsistentRead: true, ExclusiveStartKey: start,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :meta',
      ExpressionAttributeValues: { ':pk': keys.instance(instanceId).pk, ':from': ATTACHMENT_PREFIX, ':meta': keys.instance(instanceId).sk },
    }));
    items.push(...(out.Items ?? []) as Stored[]);
    start = out.LastEvaluatedKey;
  } while (start);
  const meta = items.find((item) => item.sk === keys.instance(instanceId).sk);
  return meta ? joined(meta as unknown as Instance, items.filter((item) => item !== meta)) : undefined;
}

/** Instances already read, with their attachments' details: one BatchGetItem per hundred, none when no entry needs one. */
export async function withAttachments(table: Table, instances: readonly Instance[]): Promise<Instance[]> {
  const wanted = instances.flatMap(detailKeys);
  if (wanted.length === 0) return [...instances];
  const details = await itemsOf<Stored>(table, wanted);
  return instances.map((instance) => joined(instance, details.filter((d) => d.pk === keys.instance(instance.id).pk)));
}
