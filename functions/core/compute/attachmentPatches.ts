import { Volumes, type Attachment, type AttachableKind } from '../shared/attachables.js';
import type { OperationContext } from './driver.js';
import type { InstancePatch } from './instance.js';

// What an attach or a detach leaves on the instance, whatever the driver did to make it so: the
// mapping lands on the instance item with the release (fenced), the resource is freed after it.

/** The id an attach or detach operation is about: its volume or its port. */
export const attachableIdOf = (ctx: OperationContext, kind: AttachableKind): string =>
  String(kind === Volumes ? ctx.params.volumeId : ctx.params.portId);

function detailsOf(ctx: OperationContext, kind: AttachableKind): Partial<Attachment> {
  const p = ctx.params;
  const tag = typeof p.tag === 'string' ? { tag: p.tag } : {};
  if (kind === Volumes) return { device: String(p.device), deleteOnTermination: p.deleteOnTermination === true, ...tag };
  return {
    macAddress: String(p.macAddress), netId: String(p.netId),
    ...(typeof p.netName === 'string' ? { netName: p.netName } : {}),
    ...(Array.isArray(p.fixedIps) ? { fixedIps: p.fixedIps as Attachment['fixedIps'] } : {}),
    ...(typeof p.fixedIp === 'string' ? { fixedIp: p.fixedIp } : {}),
    ...tag,
  };
}

export function attachedPatch(ctx: OperationContext, kind: AttachableKind): InstancePatch {
  return {
    attach: {
      map: kind.map,
      attachment: {
        ...detailsOf(ctx, kind), id: attachableIdOf(ctx, kind), instanceId: ctx.instance.id, requestId: ctx.requestId,
        created: new Date().toISOString(),
      },
    },
  };
}

export const detachedPatch = (ctx: OperationContext, kind: AttachableKind): InstancePatch =>
  ({ detach: { map: kind.map, id: attachableIdOf(ctx, kind) } });

