import { setTimeout as sleep } from 'node:timers/promises';
import { attachmentsOf, touchAttachment, Ports, Volumes, type Attachment, type AttachableKind } from '../shared/attachables.js';
import { attachedPatch, detachedPatch } from './attachmentPatches.js';
import type { OperationName } from './catalogue.js';
import type { ComputeDriver, OperationContext } from './driver.js';
import type { InstancePatch } from './instance.js';
import { PowerState, type TaskState } from './states.js';
import type { Table } from '../shared/table.js';
import { DriverError } from '../shared/errors.js';
import { uploadSnapshot } from '../images/snapshots.js';

/**
 * Called before each step's work, after its checkpoint. What it throws, the step throws: a
 * DriverError is the operation's failure, anything else a crash. The local runtime and the tests
 * inject faults through it (local/faults.ts, test/support/faults.ts); nothing in the deployed
 * functions sets it.
 */
export type StepHook = (op: OperationName, step: string) => void;

export interface SimulatedDriverOptions {
  /** Time each step takes; long enough by default to see an operation in flight with curl. */
  readonly stepMs: number;
  readonly beforeStep?: StepHook;
}

const isRunning = (ctx: OperationContext) => ctx.instance.powerState === PowerState.RUNNING;

const runningUnlessStopped = (ctx: OperationContext) =>
  ctx.instance.vmState === 'stopped' ? PowerState.SHUTDOWN : PowerState.RUNNING;

/**
 * A hypervisor simulated on the table: block-device mappings and ports are real items, power
 * state and flavor change as a hypervisor would change them, every step takes time and passes
 * a fenced checkpoint first, so a superseded operation stops before its next side effect.
 */
export class SimulatedDriver implements ComputeDriver {
  constructor(private readonly table: Table, private readonly options: SimulatedDriverOptions) {}

  /** A step of work: fenced checkpoint, then the (simulated) time it takes. */
  private async step(ctx: OperationContext, name: string, taskState?: TaskState): Promise<void> {
    await ctx.checkpoint(taskState);
    this.options.beforeStep?.(ctx.op, name);
    if (this.options.stepMs > 0) await sleep(this.options.stepMs);
  }

  readonly create = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'schedule');
    await this.step(ctx, 'spawn', 'spawning');
    return { powerState: PowerState.RUNNING };
  };

  readonly rebuild = async (ctx: OperationContext): Promise<InstancePatch> => {
    // Under the claim no other operation can change the mappings: the item taken up is current.
    return this.rebuildFrom(ctx, attachmentsOf(ctx.instance, Volumes));
  };

  /**
   * Nova's driver.rebuild takes the mappings from its caller: detach each volume, re-image,
   * attach each again. A mapping that vanished meanwhile is Nova's VolumeBDMNotFound.
   */
  protected async rebuildFrom(ctx: OperationContext, mappings: readonly Attachment[]): Promise<InstancePatch> {
    await this.step(ctx, 'power_off');
    for (const m of mappings) await this.touch(ctx, Volumes, m.id, 'detach_volume');
    await this.step(ctx, 'spawn');
    for (const m of mappings) await this.touch(ctx, Volumes, m.id, 'attach_volume');
    return { imageId: String(ctx.params.imageRef ?? ctx.instance.imageId), powerState: runningUnlessStopped(ctx) };
  }

  private async touch(ctx: OperationContext, kind: AttachableKind, id: string, step: string) {
    await this.step(ctx, step);
    await touchAttachment(this.table, kind, { instanceId: ctx.instance.id, id, now: Date.now() });
  }

  readonly resize = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'prep');
    await this.step(ctx, 'migrate', 'resize_migrating');
    await this.step(ctx, 'finish', 'resize_finish');
    return { flavorId: String(ctx.params.flavorRef), powerState: runningUnlessStopped(ctx) };
  };

  readonly confirm_resize = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'confirm');
    return { clear: ['oldFlavorId', 'preResizeVmState'] };
  };

  readonly revert_resize = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'revert');
    // The old flavor and vm_state: from the move's migration record (worker.ts), or the item of
    // the previous version; cleared for the latter.
    const wasStopped = ctx.instance.preResizeVmState === 'stopped';
    return {
      flavorId: ctx.instance.oldFlavorId ?? ctx.instance.flavorId,
      powerState: wasStopped ? PowerState.SHUTDOWN : PowerState.RUNNING,
      clear: ['oldFlavorId', 'preResizeVmState'],
    };
  };

  /** A cold migration: Nova's resize to another host with the same flavor, waiting in VERIFY_RESIZE. */
  readonly migrate = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'prep');
    await this.step(ctx, 'migrate_disk', 'resize_migrating');
    await this.step(ctx, 'finish', 'resize_finish');
    return { powerState: runningUnlessStopped(ctx) };
  };

  /**
   * A live migration: the target prepared, the memory copied (one more pass unless force_complete
   * was asked for), the switch-over. Each phase is recorded on the migration first: an abort that
   * came before it stops the migration there, with the guest still on its source.
   */
  readonly live_migrate = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'pre_live_migration');
    await ctx.migration?.advance('running');
    await this.step(ctx, 'copy_memory');
    if (!await ctx.migration?.forcedComplete()) await this.step(ctx, 'copy_dirty_memory');
    await ctx.migration?.advance('post-migrating');
    await this.step(ctx, 'post_live_migration');
    return {};
  };

  /** Evacuation: the server rebuilt on its new host from its image, as rebuild leaves it. */
  readonly evacuate = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'rebuild_spawn');
    return { powerState: runningUnlessStopped(ctx) };
  };

  readonly shelve = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'snapshot');
    await this.step(ctx, 'power_off');
    return { powerState: PowerState.SHUTDOWN };
  };

  readonly shelve_offload = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'offload');
    return { powerState: PowerState.NOSTATE };
  };

  readonly unshelve = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'spawn');
    return { powerState: PowerState.RUNNING };
  };

  readonly attach_volume = (ctx: OperationContext) => this.attachment(ctx, 'connect_volume', attachedPatch(ctx, Volumes));
  readonly detach_volume = (ctx: OperationContext) => this.attachment(ctx, 'disconnect_volume', detachedPatch(ctx, Volumes));
  readonly attach_interface = (ctx: OperationContext) => this.attachment(ctx, 'plug_vif', attachedPatch(ctx, Ports));
  readonly detach_interface = (ctx: OperationContext) => this.attachment(ctx, 'unplug_vif', detachedPatch(ctx, Ports));

  /** One step (its checkpoint fences it); the mapping lands on the instance with the release. */
  private async attachment(ctx: OperationContext, step: string, patch: InstancePatch): Promise<InstancePatch> {
    await this.step(ctx, step);
    return patch;
  }

  readonly start = (ctx: OperationContext) => this.power(ctx, 'power_on', PowerState.RUNNING);
  readonly stop = (ctx: OperationContext) => this.power(ctx, 'power_off', PowerState.SHUTDOWN);
  readonly reboot_soft = (ctx: OperationContext) => this.power(ctx, 'reboot', PowerState.RUNNING);
  readonly reboot_hard = (ctx: OperationContext) => this.power(ctx, 'reboot', PowerState.RUNNING);
  readonly pause = (ctx: OperationContext) => this.power(ctx, 'pause', PowerState.PAUSED);
  readonly unpause = (ctx: OperationContext) => this.power(ctx, 'unpause', PowerState.RUNNING);
  readonly suspend = (ctx: OperationContext) => this.power(ctx, 'suspend', PowerState.SUSPENDED);
  readonly resume = (ctx: OperationContext) => this.power(ctx, 'resume', PowerState.RUNNING);

  private async power(ctx: OperationContext, step: string, powerState: InstancePatch['powerState']): Promise<InstancePatch> {
    await this.step(ctx, step);
    return { powerState };
  }

  /** Nova's rescue: power off, boot the rescue image with the original disk attached. */
  readonly rescue = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'power_off');
    await this.step(ctx, 'spawn_rescue');
    return { powerState: PowerState.RUNNING };
  };

  readonly unrescue = (ctx: OperationContext) => this.power(ctx, 'unrescue', PowerState.RUNNING);

  /** The hypervisor snapshots the disk and uploads it: the image service's record becomes active. */
  readonly create_image = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'snapshot', 'image_snapshot');
    return this.upload(ctx);
  };

  readonly create_backup = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'snapshot');
    return this.upload(ctx);
  };

  private async upload(ctx: OperationContext): Promise<InstancePatch> {
    await this.step(ctx, 'extract', 'image_pending_upload');
    await this.step(ctx, 'upload', 'image_uploading');
    await uploadSnapshot(this.table, String((ctx.params.image as { id: string }).id), ctx.instance, Date.now(), ctx.fence);
    return {};
  }

  /** An NMI to the guest (libvirt's inject_nmi): refused by a guest that is not running (InstanceNotRunning). */
  readonly trigger_crash_dump = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'inject_nmi');
    if (!isRunning(ctx)) throw new DriverError(`Instance ${ctx.instance.id} is not running.`, 409);
    return {};
  };

  /** The guest agent sets the password; a guest that is not running cannot (InstancePasswordSetFailed). */
  readonly change_password = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'set_admin_password');
    if (!isRunning(ctx)) {
      throw new DriverError(`Failed to set admin password on ${ctx.instance.id} because instance ${ctx.instance.id} is not running`, 409);
    }
    return {};
  };

  /**
   * Destroys the server. What it holds is freed after the release, and what an operation it took
   * over had reserved is given back before it, by the domain, whatever the driver (settle.ts).
   */
  readonly delete = async (ctx: OperationContext): Promise<InstancePatch> => {
    await this.step(ctx, 'shutdown');
    await this.step(ctx, 'destroy');
    return { powerState: PowerState.NOSTATE };
  };
}
