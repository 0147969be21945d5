import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Ec2Settings } from '../../shared/config.js';
import { DriverError } from '../../shared/errors.js';
import { OperationCatalogue } from '../catalogue.js';
import { NotYet, type ComputeDriver, type OperationContext } from '../driver.js';
import type { InstancePatch } from '../instance.js';
import { classify, vanished } from './failures.js';
import { amiFor, amisAndSnapshotsOf, interfaceView, isGone, rootVolumeTask, serverInstance, volumeView } from './observe.js';
import { backupsBeyondRotation } from '../../images/snapshots.js';
import { readImage } from '../../images/store.js';
import type { Table } from '../../shared/table.js';
import { Plans, type Plan, type Seen } from './plans.js';
import { Ec2Resources } from './resources.js';

/**
 * Most EC2 calls one invocation makes before it hands the rest to the next one: a plan that
 * calls and looks again (ModifyInstanceAttribute) is bounded even if EC2 keeps disagreeing.
 */
const CALLS_PER_INVOCATION = 4;

export interface Ec2DriverOptions {
  readonly now?: () => number;
  /** The table, for the image records a snapshot or backup makes active (and the backups it rotates out). */
  readonly table?: Table;
}

/**
 * The catalogue on EC2. Each invocation is one resumption: look at EC2 (the server's instance
 * and what the operation works on), decide the next move from what is there (plans.ts), make
 * at most a few calls, each after a fenced checkpoint, and either finish or answer NotYet, so
 * that the message comes back when EC2 has had time to move. No invocation sleeps on EC2.
 */
export class Ec2Driver {
  private readonly resources: Ec2Resources;
  private readonly now: () => number;
  private readonly table?: Table;

  constructor(private readonly ec2: EC2Client, private readonly settings: Ec2Settings, options: Ec2DriverOptions = {}) {
    this.resources = new Ec2Resources(settings);
    this.now = options.now ?? Date.now;
    this.table = options.table;
  }

  private tableFor(op: string): Table {
    if (!this.table) throw new Error(`the EC2 driver was built without a table: ${op} cannot record its image`);
    return this.table;
  }

  /** A snapshot's or backup's AMI and image record, and what is left on EC2 of the backups its rotation ends. */
  private async lookAtImage(ctx: OperationContext, instance: Seen['instance']): Promise<Seen> {
    const table = this.tableFor(ctx.op);
    const imageId = String((ctx.params.image as { id: string }).id);
    const { backupType, rotation } = ctx.params;
    const [ami, imageRecord, beyond] = await Promise.all([
      amiFor(this.ec2, imageId), readImage(table, imageId),
      typeof backupType === 'string' && typeof rotation === 'number' ? backupsBeyondRotation(table, ctx.instance.id, backupType, rotation) : [],
    ]);
    const left = await amisAndSnapshotsOf(this.ec2, this.settings.stackTag, beyond.map((i) => i.id));
    return { instance, ...(ami ? { ami } : {}), ...(imageRecord ? { imageRecord } : {}), rotation: left };
  }

  private async look(plan: Plan, ctx: OperationContext): Promise<Seen> {
    if (plan.looks === 'nothing') return {};
    const instance = await serverInstance(this.ec2, this.settings.stackTag, ctx.instance.id);
    if (!plan.needsInstance || isGone(instance)) return { instance };
    const id = instance!.id;
    switch (plan.looks) {
      case 'volume': return { instance, volume: await volumeView(this.ec2, this.resources.ebsVolume(String(ctx.params.volumeId)), id) };
      case 'interface': return { instance, iface: await interfaceView(this.ec2, this.resources.networkInterface(String(ctx.params.portId))) };
      case 'rootVolumeTask': return { instance, rootTask: await rootVolumeTask(this.ec2, id, ctx.requestId) };
      case 'image': return this.lookAtImage(ctx, instance);
      default: return { instance };
    }
  }

  private async run(ctx: OperationContext): Promise<InstancePatch> {
    const plan = Plans[ctx.op];
    const serverId = ctx.instance.id;
    if (!plan) throw new DriverError(`${ctx.op} is not supported by the EC2 driver`, 501);
    const waited = this.now() - (ctx.instance.claim?.claimedAt ?? this.now());
    if (waited > this.settings.operationTimeoutSeconds * 1000) {
      throw new DriverError(`EC2 did not finish ${ctx.op} of server ${serverId} in ${this.settings.operationTimeoutSeconds} s`);
    }
    // The take-up just proved the claim, so the worker makes this first checkpoint free; the one
    // before each call below then writes, and fences the call against a takeover that came while
    // this run was reading EC2.
    await ctx.checkpoint();
    for (let calls = 0; ; calls++) {
      const seen = await this.guarded(serverId, () => this.look(plan, ctx));
      if (plan.needsInstance && isGone(seen.instance)) {
        throw vanished(serverId, seen.instance ? `${seen.instance.id} is ${seen.instance.state}` : 'no instance is tagged with it');
      }
      if (plan.looks !== 'nothing' && !plan.needsInstance && seen.instance?.state === 'terminated' && ctx.op !== 'delete') {
        throw vanished(serverId, `${seen.instance.id} is terminated`);
      }
      const move = plan.next({ ctx, seen, resources: this.resources, settings: this.settings });
      switch (move.kind) {
        case 'done': return move.patch;
        case 'fail': throw new DriverError(move.message, move.code ?? 500);
        case 'wait': throw new NotYet(this.settings.pollSeconds, move.reason);
        case 'write': {
          if (calls >= CALLS_PER_INVOCATION) throw new NotYet(this.settings.pollSeconds, `${move.what} is next`);
          await ctx.checkpoint();
          await move.write(this.tableFor(ctx.op));
          continue;
        }
        case 'call': {
          if (calls >= CALLS_PER_INVOCATION) throw new NotYet(this.settings.pollSeconds, `${move.action} is next`);
          // Fenced: a superseded run stops here, before its side effect, and renews the leases otherwise.
          await ctx.checkpoint(move.taskState);
          await this.guarded(serverId, () => move.send(this.ec2));
          if (move.then === 'wait') throw new NotYet(this.settings.pollSeconds, `${move.action} was sent`);
          if (move.then !== 'look') return move.then.patch;
        }
      }
    }
  }

  /** An EC2 call whose failure is sorted (failures.ts): a fault, a later look, or a crash. */
  private async guarded<T>(serverId: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof DriverError || err instanceof NotYet) throw err;
      throw classify(err, serverId, this.settings.pollSeconds * 2);
    }
  }

  /** The ComputeDriver: every catalogue operation, each carried out by its plan. */
  asComputeDriver(): ComputeDriver {
    const run = (ctx: OperationContext) => this.run(ctx);
    return Object.fromEntries(Object.keys(OperationCatalogue).map((op) => [op, run])) as ComputeDriver;
  }
}

