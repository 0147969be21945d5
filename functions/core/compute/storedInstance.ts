import { entryOf } from './attachmentItems.js';
import { DEFAULT_SECURITY_GROUP, reservationIdOf, type AttachmentMap, type Instance, type InstancePatch } from './instance.js';
import { recordedAllocation } from '../placement/allocations.js';

// What a server's item leaves out when it is made: the fields Nova keeps as null, and those whose
// value is what every reader takes their absence for (api/views.ts, api/listQuery.ts,
// serverFields.ts). Every claim and release is billed per KB of this item and a refusal costs its
// size, so about 100 bytes of nulls and defaults on a plain server are paid on every operation
// (docs/write-units.md). Its attachments are entries; their details go on items of their own
// (attachmentItems.ts), written before it.

const ABSENCE_READS_AS: Readonly<Record<string, unknown>> = {
  metadata: {}, tags: [], diskConfig: 'MANUAL', configDrive: false, launchIndex: 0, securityGroups: [DEFAULT_SECURITY_GROUP],
};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The instance as its item stores it: without nulls, and without fields equal to what their absence reads as. */
export function storedInstance(instance: Instance): Instance {
  const stored = Object.fromEntries(Object.entries(instance).filter(([name, value]) =>
    value !== null && value !== undefined && !(Object.hasOwn(ABSENCE_READS_AS, name) && same(value, ABSENCE_READS_AS[name]))));
  if (stored.reservationId === reservationIdOf({ id: instance.id })) delete stored.reservationId;
  for (const map of ['volumes', 'ports'] as const satisfies readonly AttachmentMap[]) {
    const entries = instance[map];
    if (entries) {
      stored[map] = Object.fromEntries(Object.entries(entries).map(([id, a]) => [id, typeof a === 'object' ? entryOf(map, a) : a]));
    }
  }
  return stored as unknown as Instance;
}

/**
 * What the next release of an item the previous version wrote takes off it, whatever that
 * operation is: Placement's marks on its allocation (`movedBy`, `resizedBy`, and `previous` but
 * while a resize waits for its confirm or revert), which no reader takes from the item any more
 * (placement/allocations.ts recordedAllocation). Its last move's ending is settled and taken off
 * by the same release (settle.ts). Nothing for an item this version wrote.
 */
export function previousVersionPatch(instance: Instance): InstancePatch {
  const a = instance.allocation;
  const waiting = instance.pendingMove !== undefined;
  if (!a || !(a.movedBy !== undefined || a.resizedBy !== undefined || (a.previous !== undefined && !waiting))) return {};
  return { allocation: { ...recordedAllocation(a), ...(waiting && a.previous ? { previous: recordedAllocation(a.previous) } : {}) } };
}
