import {
  attachmentsOf, releaseAttachable, Volumes, writeAttachmentUnfenced, type Attachment,
} from '../../functions/core/shared/attachables.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import type { OperationContext } from '../../functions/core/compute/driver.js';
import { Conflict } from '../../functions/core/shared/errors.js';
import type { Instance } from '../../functions/core/compute/instance.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import type { Table } from '../../functions/core/shared/table.js';

// THE BASELINE, kept under test/ and never in product code: Nova before the blueprint.
// Admission is read-check-then-act (read the instance, check task_state, go on); detach sets
// no task_state at all; rebuild's API reads the block-device mappings and casts them to compute.
// Both operations then run at once on the same driver, and what each changes is written with no
// fence. This is how the tests prove they can see the race they exist to rule out.

/** The simulated driver, with rebuild taking the mappings nova-api read and cast to it. */
export class PreBlueprintDriver extends SimulatedDriver {
  rebuildWith(ctx: OperationContext, mappings: readonly Attachment[]) {
    return this.rebuildFrom(ctx, mappings);
  }
}

function unfencedContext(op: OperationName, instance: Instance, params: Record<string, unknown>): OperationContext {
  return { op, requestId: `baseline-${op}-${crypto.randomUUID()}`, instance, params, takenOver: [], checkpoint: async () => undefined,
    fence: { instanceId: instance.id, token: instance.version } };
}

async function checkInstanceState(table: Table, instanceId: string, verb: string): Promise<Instance> {
  const instance = await readInstance(table, instanceId);
  if (!instance) throw new Error(`no instance ${instanceId}`);
  if (instance.taskState) throw new Conflict(`Cannot '${verb}' instance ${instanceId} while it is in task_state ${instance.taskState}`);
  return instance;
}

export async function preBlueprintDetach(table: Table, driver: PreBlueprintDriver, instanceId: string, volumeId: string) {
  const instance = await checkInstanceState(table, instanceId, 'detach_volume');
  // No task_state is set: nothing stops a rebuild from starting now.
  await driver.detach_volume(unfencedContext('detach_volume', instance, { volumeId }));
  await writeAttachmentUnfenced(table, Volumes, { instanceId, id: volumeId, remove: true });
  await releaseAttachable(table, Volumes, { id: volumeId, instanceId });
}

export async function preBlueprintRebuild(table: Table, driver: PreBlueprintDriver, instanceId: string, imageRef: string) {
  const instance = await checkInstanceState(table, instanceId, 'rebuild');
  const bdms = attachmentsOf(instance, Volumes); // read in nova-api
  await driver.rebuildWith(unfencedContext('rebuild', instance, { imageRef }), bdms); // run in nova-compute
}
