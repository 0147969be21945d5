import { randomBytes, randomUUID } from 'node:crypto';
import { requestOperation, type AdmissionDeps } from '../../core/admission.js';
import { attachmentOn, attachmentsOf, Ports, Volumes } from '../../core/attachables.js';
import { NotFound } from '../../core/errors.js';
import { canonicalUuid } from '../../core/ids.js';
import { getServer } from '../../core/instances.js';
import { empty, json, pathParam, requester, type ApiRoute } from '../http.js';
import { schemas, validate } from '../schemas.js';
import { interfaceAttachmentView, volumeAttachmentView } from '../views.js';

interface AttachVolumeBody { volumeAttachment: { volumeId: string; device?: string | null } }
interface AttachInterfaceBody {
  interfaceAttachment?: { port_id?: string; net_id?: string; fixed_ips?: { ip_address: string }[] };
}

/** The network a port lands on when the request names none (taskgate has no network service). */
export const DEFAULT_NETWORK_ID = '3b0e7c4a-0c4e-4b3e-9a57-6a1d3c1f0b2a';

const randomMac = () => `fa:16:3e:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
const randomIp = () => `10.0.${randomBytes(1)[0]}.${2 + (randomBytes(1)[0]! % 250)}`;

/** Volume attachments (os-volume_attachments) and interfaces (os-interface) of a server. */
export function attachmentRoutes(deps: AdmissionDeps): ApiRoute[] {
  const base = '/v2.1/servers/{server_id}';
  return [
    {
      method: 'GET', path: `${base}/os-volume_attachments`,
      doc: { summary: 'List volume attachments', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const all = attachmentsOf(server, Volumes);
        return json(200, { volumeAttachments: all.map(volumeAttachmentView) });
      },
    },
    {
      method: 'GET', path: `${base}/os-volume_attachments/{volume_id}`,
      doc: { summary: 'Show a volume attachment', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const volumeId = pathParam(event, 'volume_id');
        const found = attachmentOn(server, Volumes, volumeId);
        if (!found) throw new NotFound(`Volume ${volumeId} is not attached to ${server.id}`);
        return json(200, { volumeAttachment: volumeAttachmentView(found) });
      },
    },
    {
      method: 'POST', path: `${base}/os-volume_attachments`, body: schemas.attachVolume,
      doc: { summary: 'Attach a volume', success: [200] },
      handler: async (event, ctx) => {
        const { volumeAttachment } = validate<AttachVolumeBody>('attachVolume', event.body);
        const instanceId = pathParam(event, 'server_id');
        const volumeId = canonicalUuid(volumeAttachment.volumeId);
        const accepted = await requestOperation(deps, {
          instanceId, op: 'attach_volume', ...requester(ctx), params: { volumeId },
        });
        // Nova answers 200 with the attachment it is making (the device is chosen up front).
        return json(200, {
          volumeAttachment: volumeAttachmentView({ id: volumeId, instanceId, device: String(accepted.params.device) }),
        });
      },
    },
    {
      method: 'DELETE', path: `${base}/os-volume_attachments/{volume_id}`,
      doc: { summary: 'Detach a volume', success: [202] },
      handler: async (event, ctx) => {
        await requestOperation(deps, {
          instanceId: pathParam(event, 'server_id'), op: 'detach_volume', ...requester(ctx),
          params: { volumeId: pathParam(event, 'volume_id') },
        });
        return empty(202);
      },
    },
    {
      method: 'GET', path: `${base}/os-interface`,
      doc: { summary: 'List interfaces', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const all = attachmentsOf(server, Ports);
        return json(200, { interfaceAttachments: all.map((a) => interfaceAttachmentView(a, 'ACTIVE')) });
      },
    },
    {
      method: 'GET', path: `${base}/os-interface/{port_id}`,
      doc: { summary: 'Show an interface', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
        const portId = pathParam(event, 'port_id');
        const found = attachmentOn(server, Ports, portId);
        if (!found) throw new NotFound(`Port ${portId} is not attached to ${server.id}`);
        return json(200, { interfaceAttachment: interfaceAttachmentView(found, 'ACTIVE') });
      },
    },
    {
      method: 'POST', path: `${base}/os-interface`, body: schemas.attachInterface,
      doc: { summary: 'Attach an interface', success: [200] },
      handler: async (event, ctx) => {
        const body = validate<AttachInterfaceBody>('attachInterface', event.body ?? {});
        const request = body.interfaceAttachment ?? {};
        const port = {
          portId: request.port_id ? canonicalUuid(request.port_id) : randomUUID(),
          netId: request.net_id ? canonicalUuid(request.net_id) : DEFAULT_NETWORK_ID,
          macAddress: randomMac(), fixedIp: request.fixed_ips?.[0]?.ip_address ?? randomIp(),
        };
        await requestOperation(deps, {
          instanceId: pathParam(event, 'server_id'), op: 'attach_interface', ...requester(ctx), params: port,
        });
        return json(200, {
          interfaceAttachment: interfaceAttachmentView({ id: port.portId, ...port }, 'DOWN'),
        });
      },
    },
    {
      method: 'DELETE', path: `${base}/os-interface/{port_id}`,
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
