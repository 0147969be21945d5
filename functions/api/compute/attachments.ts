import { requestOperation, type AdmissionDeps } from '../../core/compute/admission.js';
import { attachmentOn, attachmentsOf, Ports, Volumes } from '../../core/shared/attachables.js';
import type { ClaimGuard } from '../../core/compute/claimInstance.js';
import { notShelved } from '../../core/compute/guards.js';
import { BadRequest, NotFound } from '../../core/shared/errors.js';
import { canonicalUuid, derivedUuid } from '../../core/shared/ids.js';
import { getServer } from '../../core/compute/instanceStore.js';
import { isAtLeast, MAX_VERSION, type ApiVersion } from '../apiVersion.js';
import { empty, json, pathParam, requester, type ApiContext, type ApiRoute } from '../http.js';
import { networkForServer, projectNetwork } from '../../core/networks/serverPorts.js';
import { canonicalIp } from '../../core/networks/ip.js';
import { attachInterfaceSchema, attachVolumeSchema, checkBody, isTrue } from '../serverSchemas.js';
import { interfaceAttachmentView, volumeAttachmentView } from '../views.js';

interface AttachVolumeBody {
  volumeAttachment: { volumeId: string; device?: string | null; tag?: string; delete_on_termination?: boolean | string };
}
interface AttachInterfaceBody {
  interfaceAttachment?: { port_id?: string; net_id?: string; fixed_ips?: { ip_address: string }[]; tag?: string };
}

/**
 * What an attach binds: the port named (Neutron's, reserved for the server at admission), or one
 * Nova makes on the network named, else on the project's one network (serverPorts.ts).
 */
async function interfaceToAttach(deps: AdmissionDeps, ctx: ApiContext, request: NonNullable<AttachInterfaceBody['interfaceAttachment']>) {
  if (request.port_id && request.net_id) throw new BadRequest('Must not input both network_id and port_id');
  const fixedIp = request.fixed_ips?.[0]?.ip_address;
  if (fixedIp !== undefined && !request.net_id) throw new BadRequest('Must input network_id when request IP address');
  if (request.port_id) return { portId: canonicalUuid(request.port_id) };
  const network = request.net_id
    ? await networkForServer(deps.table, ctx.caller, canonicalUuid(request.net_id), (message) => new NotFound(message))
    : await projectNetwork(deps.table, ctx.caller);
  if (!network) throw new BadRequest(`No specific network was requested and none are available for project '${ctx.caller.projectId}'.`);
  return {
    // Named from the request id: a retry that goes on as this request (its Idempotency-Key taken over) finds the one it made.
    portId: derivedUuid('port', ctx.requestId), create: true, netId: network.id,
    ...(fixedIp !== undefined ? { fixedIp: canonicalIp(fixedIp) ?? fixedIp } : {}),
  };
}

/** Before 2.20 Nova refuses to attach or detach a volume of a shelved (or offloaded) server. */
function shelvedGuard(v: ApiVersion, action: string): ClaimGuard | undefined {
  return isAtLeast(v, '2.20') ? undefined : notShelved(action);
}

/** Volume attachments (os-volume_attachments) and interfaces (os-interface) of a server. */
export function attachmentRoutes(deps: AdmissionDeps): ApiRoute[] {
  const base = '/v2.1/servers/{server_id}';
  return [
    {
      method: 'GET', path: `${base}/os-volume_attachments`, policy: 'os_compute_api:os-volumes-attachments:index',
      doc: { summary: 'List volume attachments', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const all = attachmentsOf(server, Volumes);
        return json(200, { volumeAttachments: all.map((a) => volumeAttachmentView(a, ctx.apiVersion)) });
      },
    },
    {
      method: 'GET', path: `${base}/os-volume_attachments/{volume_id}`, policy: 'os_compute_api:os-volumes-attachments:show',
      doc: { summary: 'Show a volume attachment', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const volumeId = pathParam(event, 'volume_id');
        const found = attachmentOn(server, Volumes, volumeId);
        if (!found) throw new NotFound(`Volume ${volumeId} is not attached to ${server.id}`);
        return json(200, { volumeAttachment: volumeAttachmentView(found, ctx.apiVersion) });
      },
    },
    {
      method: 'POST', path: `${base}/os-volume_attachments`, policy: 'os_compute_api:os-volumes-attachments:create',
      body: attachVolumeSchema(MAX_VERSION),
      doc: { summary: 'Attach a volume', success: [200] },
      handler: async (event, ctx) => {
        const { volumeAttachment } = checkBody<AttachVolumeBody>('attachVolume', ctx.apiVersion, event.body);
        const instanceId = pathParam(event, 'server_id');
        const volumeId = canonicalUuid(volumeAttachment.volumeId);
        const deleteOnTermination = isTrue(volumeAttachment.delete_on_termination);
        const accepted = await requestOperation(deps, {
          instanceId, op: 'attach_volume', ...requester(ctx), guard: shelvedGuard(ctx.apiVersion, 'attach_volume'),
          params: {
            volumeId, deleteOnTermination,
            ...(volumeAttachment.tag !== undefined ? { tag: volumeAttachment.tag } : {}),
          },
        });
        // Nova answers 200 with the attachment it is making (the device is chosen up front).
        return json(200, {
          volumeAttachment: volumeAttachmentView({
            id: volumeId, instanceId, device: String(accepted.params.device),
            tag: volumeAttachment.tag ?? null, deleteOnTermination,
          }, ctx.apiVersion),
        });
      },
    },
    {
      method: 'DELETE', path: `${base}/os-volume_attachments/{volume_id}`, policy: 'os_compute_api:os-volumes-attachments:delete',
      doc: { summary: 'Detach a volume', success: [202] },
      handler: async (event, ctx) => {
        await requestOperation(deps, {
          instanceId: pathParam(event, 'server_id'), op: 'detach_volume', ...requester(ctx),
          params: { volumeId: pathParam(event, 'volume_id') }, guard: shelvedGuard(ctx.apiVersion, 'detach_volume'),
        });
        return empty(202);
      },
    },
    {
      method: 'GET', path: `${base}/os-interface`, policy: 'os_compute_api:os-attach-interfaces:list',
      doc: { summary: 'List interfaces', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const all = attachmentsOf(server, Ports);
        return json(200, { interfaceAttachments: all.map((a) => interfaceAttachmentView(a, 'ACTIVE', ctx.apiVersion)) });
      },
    },
    {
      method: 'GET', path: `${base}/os-interface/{port_id}`, policy: 'os_compute_api:os-attach-interfaces:show',
      doc: { summary: 'Show an interface', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const portId = pathParam(event, 'port_id');
        const found = attachmentOn(server, Ports, portId);
        if (!found) throw new NotFound(`Port ${portId} is not attached to ${server.id}`);
        return json(200, { interfaceAttachment: interfaceAttachmentView(found, 'ACTIVE', ctx.apiVersion) });
      },
    },
    {
      method: 'POST', path: `${base}/os-interface`, policy: 'os_compute_api:os-attach-interfaces:create', body: attachInterfaceSchema(MAX_VERSION),
      doc: { summary: 'Attach an interface', success: [200] },
      handler: async (event, ctx) => {
        const body = checkBody<AttachInterfaceBody>('attachInterface', ctx.apiVersion, event.body ?? {});
        const request = body.interfaceAttachment ?? {};
        const port = { ...await interfaceToAttach(deps, ctx, request), ...(request.tag !== undefined ? { tag: request.tag } : {}) };
        const accepted = await requestOperation(deps, {
          instanceId: pathParam(event, 'server_id'), op: 'attach_interface', ...requester(ctx), params: port,
        });
        // What was admitted, with the port's address and MAC: a retry of a request already admitted reports that one's.
        const admitted = { ...port, ...accepted.params } as Record<string, any>;
        return json(200, {
          interfaceAttachment: interfaceAttachmentView({ id: String(admitted.portId), ...admitted }, 'DOWN', ctx.apiVersion),
        });
      },
    },
    {
      method: 'DELETE', path: `${base}/os-interface/{port_id}`, policy: 'os_compute_api:os-attach-interfaces:delete',
      doc: { summary: 'Detach an interface', success: [202] },
      handler: async (event, ctx) => {
        await requestOperation(deps, {
          instanceId: pathParam(event, 'server_id'), op: 'detach_interface', ...requester(ctx),
          params: { portId: pathParam(event, 'port_id') },
        });
        return empty(202);
      },
    },
  ];
}
