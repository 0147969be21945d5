import { randomBytes } from 'node:crypto';
import { createServer, requestOperation, reservationIdFor, serverIdFor, type AdmissionDeps } from '../../core/compute/admission.js';
import { readInstance } from '../../core/compute/readInstance.js';
import { chargeServers, giveBackServer } from '../../core/placement/quotas/usage.js';
import { projectLimits } from '../../core/placement/quotas/limits.js';
import { readHosts } from '../../core/placement/hosts.js';
import { addMember, removeMember, visibleGroup } from '../../core/placement/serverGroups.js';
import { attachmentsOf, Ports, Volumes } from '../../core/shared/attachables.js';
import { withAttachments } from '../../core/compute/attachmentItems.js';
import { AlreadyInProgress } from '../../core/compute/refusals.js';
import { BadRequest, Forbidden, NotFound } from '../../core/shared/errors.js';
import { cachedFlavors, findFlavor, isFlavorVisible, type Flavor } from '../../core/compute/flavors.js';
import { imageRefusal, imageToBoot } from '../../core/compute/bootImage.js';
import type { Instance, InstanceFields } from '../../core/compute/instance.js';
import { getServer, listServers } from '../../core/compute/instanceStore.js';
import { getKeyPair } from '../../core/compute/keypairs.js';
import { requestedNics } from '../../core/networks/serverPorts.js';
import { requestedSecurityGroups } from '../../core/compute/serverSecurityGroups.js';
import { setServerFields } from '../../core/compute/serverFields.js';
import { isAtLeast } from '../apiVersion.js';
import {
  empty, json, pathParam, requester, type ApiContext, type ApiEvent, type ApiRoute, type Route,
} from '../http.js';
import { serverListQuery } from '../listQuery.js';
import { checkBody, createServerSchema, isTrue, normalIPv6, updateServerSchema } from '../serverSchemas.js';
import {
  addressesView, serverSummaryView, serverView, type ServerParts, type ServerViewOptions,
} from '../views.js';

type CreateBody = { server: Record<string, any> };

/** Nova's default metadata_items quota. */
export const METADATA_ITEMS = 128;

/**
 * The server's view options: its volumes and ports (from the instance item itself, so a view
 * and a whole detail page cost no read beyond the items), its flavor (from 2.47, embedded, out
 * of `flavors`), the request's microversion and caller.
 */
export function serverViewOptions(s: Instance, ctx: ApiContext, flavors?: readonly Flavor[]): ServerViewOptions {
  return {
    volumes: attachmentsOf(s, Volumes), ports: attachmentsOf(s, Ports),
    flavor: flavors?.find((f) => f.id === s.flavorId), version: ctx.apiVersion, isAdmin: ctx.caller.isAdmin,
  };
}

/** The flavors a server view needs: none before 2.47, then the (cached) list, tombstones included. */
export async function viewFlavors(deps: AdmissionDeps, ctx: ApiContext): Promise<readonly Flavor[] | undefined> {
  return isAtLeast(ctx.apiVersion, '2.47') ? cachedFlavors(deps.table) : undefined;
}

export async function fullServerView(
  deps: AdmissionDeps, s: Instance, ctx: ApiContext, parts: ServerParts = { full: true }, flavors?: readonly Flavor[],
) {
  // A server as a write returned it: its attachments' details joined in (none to read for most).
  const [server] = await withAttachments(deps.table, [s]);
  return serverView(server!, ctx.baseUrl, serverViewOptions(server!, ctx, flavors ?? await viewFlavors(deps, ctx)), parts);
}

/** Nova's `servers_links` (for the list and the detail alike), pointing at the next page. */
function nextLink(base: string, path: string, event: ApiEvent, next: string | undefined) {
  if (!next) return {};
  const q = new URLSearchParams({ ...(event.queryStringParameters as Record<string, string> ?? {}), marker: next });
  return { servers_links: [{ rel: 'next', href: `${base}/v2.1/${path}?${q}` }] };
}

/** Metadata over Nova's default quota is 403, as Nova's quota check answers. */
export function checkMetadataQuota(metadata: Record<string, string> | undefined) {
  if (metadata && Object.keys(metadata).length > METADATA_ITEMS) {
    throw new Forbidden(`Quota exceeded for resources: ['metadata_items'] - Maximum number of metadata items exceeds ${METADATA_ITEMS}`);
  }
}

/** What a create request asks beyond the schema, checked as Nova's compute API checks it. */
async function createFields(deps: AdmissionDeps, ctx: ApiContext, server: Record<string, any>): Promise<InstanceFields & Partial<Instance>> {
  const v = ctx.apiVersion;
  if ((server.imageRef === undefined || server.imageRef === '')
    && !(server.block_device_mapping_v2?.length || server.block_device_mapping?.length)) {
    throw new BadRequest('Missing imageRef attribute');
  }
  // Nova finds the flavor (a missing one is createServer's 400), then reads the image as the
  // caller, before the rest of the request; whether the image suits the flavor comes last.
  const flavor = await findFlavor(deps.table, String(server.flavorRef).replace(/^.*\//, ''));
  const imageRef = String(server.imageRef ?? '').replace(/^.*\//, '');
  const image = flavor && imageRef ? await imageToBoot(deps.table, ctx.caller, imageRef) : undefined;
  if (flavor && imageRef && !image) throw new BadRequest('Can not find requested image');
  if (server.key_name !== undefined) {
    try {
      await getKeyPair(deps.table, ctx.caller.userId, server.key_name);
    } catch (err) {
      if (err instanceof NotFound) throw new BadRequest('Invalid key_name provided.');
      throw err;
    }
  }
  if (Array.isArray(server.networks) && !isAtLeast(v, '2.37')) {
    for (const n of server.networks as { uuid?: string; port?: string }[]) {
      if (n.uuid !== undefined && !/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(n.uuid)) {
        throw new BadRequest(`Bad networks format: network uuid is not in proper format (${n.uuid})`);
      }
    }
  }
  // The zones and hosts are Placement's (functions/core/placement/hosts.ts): a zone no host is
  // in is Nova's 400; a forced host (`zone:host`, an administrator's) is the scheduler's to check.
  const az: string | undefined = server.availability_zone;
  const hosts = az !== undefined || server.host !== undefined || server.hypervisor_hostname !== undefined ? await readHosts(deps.table) : [];
  let requestedZone: string | undefined;
  let requestedHost: string | undefined;
  if (az !== undefined) {
    const [zone, host] = az.split(':');
    if (zone && !hosts.some((h) => h.zone === zone)) throw new BadRequest(`The requested availability zone is not available`);
    if (host !== undefined && !ctx.caller.isAdmin) {
      throw new Forbidden('Policy doesn\'t allow os_compute_api:servers:create:forced_host to be performed.');
    }
    requestedZone = zone || undefined;
    requestedHost = host || undefined;
  }
  if (server.host !== undefined || server.hypervisor_hostname !== undefined) {
    if (!ctx.caller.isAdmin) {
      throw new Forbidden('Policy doesn\'t allow compute:servers:create:requested_destination to be performed.');
    }
    for (const h of [server.host, server.hypervisor_hostname]) {
      if (h !== undefined && !hosts.some((known) => known.name === h)) throw new BadRequest(`Compute host ${h} could not be found.`);
    }
    requestedHost = server.host ?? server.hypervisor_hostname;
  }
  checkMetadataQuota(server.metadata);
  const refusal = flavor && image && imageRefusal(image, flavor);
  if (refusal) throw refusal;
  return {
    metadata: server.metadata ?? {}, tags: server.tags ?? [],
    securityGroups: await requestedSecurityGroups(deps.table, ctx.caller.projectId, server.security_groups),
    ...(server.accessIPv4 !== undefined ? { accessIPv4: server.accessIPv4 } : {}),
    ...(server.accessIPv6 !== undefined ? { accessIPv6: normalIPv6(server.accessIPv6) } : {}),
    diskConfig: server['OS-DCF:diskConfig'] ?? 'MANUAL',
    description: server.description ?? null,
    keyName: server.key_name ?? null,
    userData: server.user_data ?? null,
    trustedCerts: server.trusted_image_certificates ?? null,
    configDrive: server.config_drive !== undefined && isTrue(server.config_drive),
    availabilityZone: requestedZone ?? 'nova',
    ...(requestedZone ? { requestedZone } : {}),
    ...(requestedHost ? { requestedHost } : {}),
    ...(server.hostname !== undefined ? { hostname: server.hostname } : {}),
  };
}

/**
 * The `group` scheduler hint (os:scheduler_hints): a server group the caller sees, by uuid; Nova's
 * 400 for a malformed one, its 404 turned 400 for one it cannot find (the create's input is wrong).
 */
async function requestedGroup(deps: AdmissionDeps, ctx: ApiContext, body: Record<string, any>): Promise<string | undefined> {
  const hints = body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'];
  const group = hints?.group;
  if (group === undefined) return undefined;
  if (typeof group !== 'string' || !UUID.test(group)) {
    throw new BadRequest(`Invalid input for field/attribute group. Value: ${JSON.stringify(group)}. ${JSON.stringify(group)} is not a 'uuid'`);
  }
  try {
    return (await visibleGroup(deps.table, ctx.caller, group.toLowerCase())).id;
  } catch (err) {
    if (err instanceof NotFound) throw new BadRequest(err.message);
    throw err;
  }
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function counts(server: Record<string, any>): { min: number; max: number } {
  const min = Number(server.min_count ?? 1);
  const max = Number(server.max_count ?? min);
  if (min > max) throw new BadRequest('min_count must be <= max_count');
  if (max > 1 && server.hostname !== undefined) {
    throw new BadRequest('Cannot specify the hostname when creating multiple servers.');
  }
  return { min, max };
}

export function serverRoutes(deps: AdmissionDeps): ApiRoute[] {
  const create: Route = async (event, ctx) => {
    const v = ctx.apiVersion;
    const body = checkBody<CreateBody>('createServer', v, event.body);
    const { server } = body;
    const { min, max } = counts(server);
    const group = await requestedGroup(deps, ctx, body);
    const fields = { ...await createFields(deps, ctx, server), ...(group ? { serverGroupId: group } : {}) };
    // Its interfaces: the networks and ports named (or the project's network), checked as Nova checks them.
    const nics = await requestedNics(deps.table, ctx.caller, server.networks, max);
    // From the request id, as the servers' ids are: a retry that goes on as this request names them alike.
    const reservationId = reservationIdFor(ctx.requestId);
    const flavorRef = String(server.flavorRef).replace(/^.*\//, '');
    const imageRef = String(server.imageRef ?? '').replace(/^.*\//, '');
    // Each instance of a multiple create is its own request to the worker, its server id from it.
    const requestIds = Array.from({ length: max }, (_, i) => (i === 0 ? ctx.requestId : `${ctx.requestId}-${i}`));
    const serverIds = requestIds.map(serverIdFor);
    const flavor = await findFlavor(deps.table, flavorRef);
    // A private flavor the project has no access to is, to it, no flavor (Nova's lookup filters it out).
    if (!flavor || !isFlavorVisible(flavor, ctx.caller)) throw new BadRequest(`Flavor ${flavorRef} could not be found.`);
    const quota = { table: deps.table, leaseMs: deps.reservationLeaseMs ?? deps.claimLeaseMs };
    const now = (deps.now ?? Date.now)();
    // Last, as Nova checks quota after the request: as many as fit, from max_count down to min_count.
    const count = await chargeServers(quota, ctx.caller.projectId, serverIds, flavor, min, now);
    const instances: Instance[] = [];
    const memberLimit = group ? (await projectLimits(deps.table, ctx.caller.projectId)).server_group_members : -1;
    for (let i = 0; i < count; i++) {
      const name = max > 1 ? `${server.name}-${i + 1}` : server.name;
      try {
        // The server joins its group before it exists, as Nova adds the member with the build request.
        if (group) await addMember(deps.table, group, serverIds[i]!, memberLimit);
        instances.push(await createServer(deps, {
          ...requester(ctx), requestId: requestIds[i]!, name, flavorRef, imageRef, fields, reservationId, launchIndex: i, nics,
        }));
      } catch (err) {
        // The servers not made give their charge back: this one if its item is not there (a
        // create refused or undone), and every later one, never attempted.
        for (let j = i; j < count; j++) {
          if (j > i || !await readInstance(deps.table, serverIds[j]!)) {
            await giveBackServer(deps.table, ctx.caller.projectId, serverIds[j]!);
            if (group) await removeMember(deps.table, group, serverIds[j]!);
          }
        }
        throw err;
      }
    }
    if (isTrue(server.return_reservation_id)) return json(202, { reservation_id: reservationId });
    const first = instances[0]!;
    const self = `${ctx.baseUrl}/v2.1/servers/${first.id}`;
    return json(202, {
      server: {
        id: first.id, links: serverSummaryView(first, ctx.baseUrl).links,
        'OS-DCF:diskConfig': fields.diskConfig, security_groups: (fields.securityGroups ?? []).map((name) => ({ name })),
        adminPass: server.adminPass ?? randomBytes(9).toString('base64url'),
      },
    }, { location: self });
  };

  const list = (detail: boolean): Route => async (event, ctx) => {
    const query = await serverListQuery(
      event.queryStringParameters ?? {}, event.multiValueQueryStringParameters ?? {}, ctx.apiVersion, ctx.caller,
    );
    if (query.nothing) return json(200, { servers: [] });
    const page = await listServers(deps.table, ctx.caller, query);
    const flavors = detail ? await viewFlavors(deps, ctx) : undefined;
    const servers = detail
      ? page.servers.map((s) => serverView(s, ctx.baseUrl, serverViewOptions(s, ctx, flavors), { full: true }))
      : page.servers.map((s) => serverSummaryView(s, ctx.baseUrl));
    return json(200, { servers, ...nextLink(ctx.baseUrl, detail ? 'servers/detail' : 'servers', event, page.next) });
  };

  const show: Route = async (event, ctx) => {
    const instance = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
    return json(200, { server: await fullServerView(deps, instance, ctx, { full: true, serverGroups: true }) });
  };

  const update: Route = async (event, ctx) => {
    const v = ctx.apiVersion;
    const id = pathParam(event, 'server_id');
    const { server } = checkBody<CreateBody>('updateServer', v, event.body);
    await getServer(deps.table, ctx.caller, id);
    const fields: Record<string, unknown> = {};
    if (server.name !== undefined) fields.name = server.name;
    if (server.accessIPv4 !== undefined) fields.accessIPv4 = server.accessIPv4;
    if (server.accessIPv6 !== undefined) fields.accessIPv6 = normalIPv6(server.accessIPv6);
    if (server['OS-DCF:diskConfig'] !== undefined) fields.diskConfig = server['OS-DCF:diskConfig'];
    if (server.description !== undefined) fields.description = server.description;
    if (server.hostname !== undefined) fields.hostname = server.hostname;
    const updated = await setServerFields(deps.table, ctx.caller, id, fields);
    const instance = updated === 'changed' ? await getServer(deps.table, ctx.caller, id) : updated;
    // Before 2.75 Nova answers an update with the basic server only.
    const full = isAtLeast(v, '2.75');
    return json(200, { server: await fullServerView(deps, instance, ctx, { full, serverGroups: true }) });
  };

  const remove: Route = async (event, ctx) => {
    try {
      await requestOperation(deps, { instanceId: pathParam(event, 'server_id'), op: 'delete', ...requester(ctx) });
    } catch (err) {
      // Nova accepts a delete of a server already being deleted; taskgate takes no second claim.
      if (err instanceof AlreadyInProgress) return empty(204);
      throw err;
    }
    return empty(204);
  };

  const ips = (network: boolean): Route => async (event, ctx) => {
    const instance = await getServer(deps.table, ctx.caller, pathParam(event, 'server_id'));
    const addresses = addressesView(attachmentsOf(instance, Ports), false);
    if (!network) return json(200, { addresses });
    const name = pathParam(event, 'network_label');
    if (!Object.hasOwn(addresses, name)) throw new NotFound('There is no such network');
    return json(200, { [name]: addresses[name] });
  };

  const LIST_QUERY = ['limit', 'marker', 'name', 'status', 'image', 'flavor', 'host', 'all_tenants', 'tenant_id',
    'changes-since', 'changes-before', 'tags', 'tags-any', 'not-tags', 'not-tags-any', 'locked', 'reservation_id'];
  return [
    {
      method: 'POST', path: '/v2.1/servers', policy: 'os_compute_api:servers:create',
      handler: create, body: createServerSchema({ major: 2, minor: 1 }),
      doc: { summary: 'Create a server (min_count/max_count several)', success: [202] },
    },
    {
      method: 'GET', path: '/v2.1/servers', policy: 'os_compute_api:servers:index',
      handler: list(false), doc: { summary: 'List servers', success: [200], query: LIST_QUERY },
    },
    {
      method: 'GET', path: '/v2.1/servers/detail', policy: 'os_compute_api:servers:detail', handler: list(true),
      doc: { summary: 'List servers with details', success: [200], query: LIST_QUERY },
    },
    {
      method: 'GET', path: '/v2.1/servers/{server_id}', policy: 'os_compute_api:servers:show',
      handler: show, doc: { summary: 'Show a server', success: [200] },
    },
    {
      method: 'PUT', path: '/v2.1/servers/{server_id}', policy: 'os_compute_api:servers:update',
      handler: update, body: updateServerSchema({ major: 2, minor: 1 }),
      doc: { summary: 'Update a server (name, access IPs, description, hostname)', success: [200] },
    },
    {
      method: 'DELETE', path: '/v2.1/servers/{server_id}', policy: 'os_compute_api:servers:delete',
      handler: remove, doc: { summary: 'Delete a server', success: [204] },
    },
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/ips', policy: 'os_compute_api:ips:index',
      handler: ips(false), doc: { summary: 'List a server\'s addresses', success: [200] },
    },
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/ips/{network_label}', policy: 'os_compute_api:ips:show', handler: ips(true),
      doc: { summary: 'Show a server\'s addresses on one network', success: [200] },
    },
  ];
}
