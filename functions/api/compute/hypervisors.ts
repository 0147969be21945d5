import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import type { Instance } from '../../core/compute/instance.js';
import { hostUptime } from '../../core/placement/hostUptime.js';
import { readHosts, setHostService, type Host } from '../../core/placement/hosts.js';
import { BadRequest, NotFound, NotImplemented } from '../../core/shared/errors.js';
import { keys, type Table } from '../../core/shared/table.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { HttpFault, json, pathParam, type ApiContext } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { SERVICE_ACTIONS } from './hypervisorRoutes.js';
import { checkBody, isTrue } from '../serverSchemas.js';
import { dbDatetime } from '../timestamps.js';

// The hosts as Nova's admin APIs show them (nova/api/openstack/compute/hypervisors.py,
// services.py, hosts.py; administrators only, nova/policies/*): each simulated host is one
// nova-compute service and one hypervisor (its node), with what Placement has allocated on it.
// Ids are integers (the host's place in the configuration) before 2.53, uuids from it.

const BINARY = 'nova-compute';

const notFoundRoute = () => new HttpFault('itemNotFound', 404, 'The resource could not be found.');

const uuids = (v: ApiVersion) => isAtLeast(v, '2.53');
const hypervisorId = (h: Host, v: ApiVersion) => (uuids(v) ? h.hypervisorId : h.number);
const serviceId = (h: Host, v: ApiVersion) => (uuids(v) ? h.serviceId : h.number);
const state = (h: Host) => (h.forcedDown ? 'down' : 'up');
const status = (h: Host) => (h.enabled ? 'enabled' : 'disabled');

function serviceView(h: Host, v: ApiVersion) {
  return {
    id: serviceId(h, v), binary: BINARY, host: h.name, zone: h.zone, status: status(h), state: state(h),
    updated_at: dbDatetime(h.updated), disabled_reason: h.disabledReason ?? null,
    ...(isAtLeast(v, '2.11') ? { forced_down: h.forcedDown } : {}),
  };
}

const summary = (h: Host, v: ApiVersion) => ({ id: hypervisorId(h, v), hypervisor_hostname: h.name, state: state(h), status: status(h) });

// A simulated host reports no CPU model: Nova's empty cpu_info, a JSON string before 2.28 and an object from it.
const cpuInfo = (v: ApiVersion) => (isAtLeast(v, '2.28') ? {} : '{}');

function detail(h: Host, v: ApiVersion, now: number) {
  const resources = isAtLeast(v, '2.88') ? {} : {
    vcpus: h.vcpus, memory_mb: h.ram, local_gb: h.disk, vcpus_used: h.usedVcpus, memory_mb_used: h.usedRam, local_gb_used: h.usedDisk,
    free_ram_mb: h.ram - h.usedRam, free_disk_gb: h.disk - h.usedDisk, current_workload: 0,
    running_vms: Object.keys(h.allocations ?? {}).length, disk_available_least: h.disk - h.usedDisk, cpu_info: cpuInfo(v),
  };
  return {
    ...summary(h, v), hypervisor_type: 'taskgate-simulated', hypervisor_version: 1, host_ip: '127.0.0.1',
    service: { host: h.name, id: serviceId(h, v), disabled_reason: h.disabledReason ?? null },
    ...resources,
    // 2.88 folds the uptime route into the detail; a host that is down has none (Nova's null).
    ...(isAtLeast(v, '2.88') ? { uptime: h.forcedDown ? null : hostUptime(h, now) } : {}),
  };
}

/** The servers allocated on a host, by name and uuid (one batch read of their items). */
async function serversOn(table: Table, h: Host): Promise<{ name: string; uuid: string }[]> {
  const ids = Object.keys(h.allocations ?? {});
  const found: { name: string; uuid: string }[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((id) => keys.instance(id));
    while (pending && pending.length > 0) {
      const out = await table.db.send(new BatchGetCommand({
        RequestItems: { [table.name]: { Keys: pending, ProjectionExpression: 'id, #n, deleted', ExpressionAttributeNames: { '#n': 'name' } } },
      }));
      for (const s of (out.Responses?.[table.name] ?? []) as Pick<Instance, 'id' | 'name' | 'deleted'>[]) {
        if (!s.deleted) found.push({ name: s.name, uuid: s.id });
      }
      pending = out.UnprocessedKeys?.[table.name]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return found.sort((a, b) => a.uuid.localeCompare(b.uuid));
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * A hypervisor by its id as this version spells it (Nova's _validate_id: from 2.53 an id that is
 * not a uuid is 400; before it, one that is not an integer is 404), or Nova's 404.
 */
async function hypervisorById(table: Table, id: string, v: ApiVersion): Promise<Host> {
  if (uuids(v) && !UUID.test(id)) throw new BadRequest(`Invalid uuid ${id}`);
  const wanted = uuids(v) ? id.toLowerCase().replace(/^(.{8})-?(.{4})-?(.{4})-?(.{4})-?(.{12})$/, '$1-$2-$3-$4-$5') : id;
  const host = (await readHosts(table)).find((h) => String(hypervisorId(h, v)) === wanted);
  if (!host) throw new NotFound(`Hypervisor with ID '${id}' could not be found.`);
  return host;
}

/** Nova's `hypervisor_hostname_pattern`: a substring of the hostname (its SQL LIKE %pattern%). */
async function matching(table: Table, pattern: string): Promise<Host[]> {
  const hosts = (await readHosts(table)).filter((h) => h.name.includes(pattern));
  if (hosts.length === 0) throw new NotFound(`No hypervisor matching '${pattern}' could be found.`);
  return hosts;
}

const withServers = (ctx: ApiContext, query: Record<string, string | undefined>) =>
  isAtLeast(ctx.apiVersion, '2.53') && query.with_servers !== undefined && isTrue(query.with_servers);

/** The servers asked for with with_servers: a host without any shows none before 2.75 and an empty list from it (Nova's view). */
async function serversField(table: Table, h: Host, v: ApiVersion) {
  const servers = await serversOn(table, h);
  return servers.length > 0 || isAtLeast(v, '2.75') ? { servers } : {};
}

/** The handlers of hypervisorRoutes.ts's declarations (os-hypervisors, os-services, os-hosts), loaded on first use. */
export function hypervisorHandlers(deps: AdmissionDeps): RouteHandler[] {
  const H = '/v2.1/os-hypervisors';
  const now = () => (deps.now ?? Date.now)();
  const list = (full: boolean) => async (event: { queryStringParameters?: Record<string, string | undefined> | null }, ctx: ApiContext) => {
    const query = event.queryStringParameters ?? {};
    let hosts = await readHosts(deps.table);
    if (isAtLeast(ctx.apiVersion, '2.53') && query.hypervisor_hostname_pattern !== undefined) {
      hosts = await matching(deps.table, query.hypervisor_hostname_pattern);
    }
    const servers = withServers(ctx, query);
    return json(200, {
      hypervisors: await Promise.all(hosts.map(async (h) => ({
        ...(full ? detail(h, ctx.apiVersion, now()) : summary(h, ctx.apiVersion)),
        ...(servers ? await serversField(deps.table, h, ctx.apiVersion) : {}),
      }))),
    });
  };
  return [
    {
      method: 'GET', path: H,
      handler: list(false),
    },
    {
      method: 'GET', path: `${H}/detail`,
      handler: list(true),
    },
    {
      method: 'GET', path: `${H}/statistics`,
      handler: async (_event, ctx) => {
        if (isAtLeast(ctx.apiVersion, '2.88')) throw notFoundRoute();
        const hosts = await readHosts(deps.table);
        const sum = (f: (h: Host) => number) => hosts.reduce((n, h) => n + f(h), 0);
        return json(200, {
          hypervisor_statistics: {
            count: hosts.length, vcpus: sum((h) => h.vcpus), memory_mb: sum((h) => h.ram), local_gb: sum((h) => h.disk),
            vcpus_used: sum((h) => h.usedVcpus), memory_mb_used: sum((h) => h.usedRam), local_gb_used: sum((h) => h.usedDisk),
            free_ram_mb: sum((h) => h.ram - h.usedRam), free_disk_gb: sum((h) => h.disk - h.usedDisk), current_workload: 0,
            running_vms: sum((h) => Object.keys(h.allocations ?? {}).length), disk_available_least: sum((h) => h.disk - h.usedDisk),
          },
        });
      },
    },
    {
      method: 'GET', path: `${H}/{hypervisor_id}`,
      handler: async (event, ctx) => {
        const h = await hypervisorById(deps.table, pathParam(event, 'hypervisor_id'), ctx.apiVersion);
        const servers = withServers(ctx, event.queryStringParameters ?? {});
        return json(200, { hypervisor: { ...detail(h, ctx.apiVersion, now()), ...(servers ? await serversField(deps.table, h, ctx.apiVersion) : {}) } });
      },
    },
    {
      method: 'GET', path: `${H}/{hypervisor_id}/uptime`,
      handler: async (event, ctx) => {
        if (isAtLeast(ctx.apiVersion, '2.88')) throw notFoundRoute();
        const h = await hypervisorById(deps.table, pathParam(event, 'hypervisor_id'), ctx.apiVersion);
        // Nova asks the host's compute service, which must be up (ComputeServiceUnavailable, 400).
        if (h.forcedDown) throw new BadRequest(`Compute service of ${h.name} is unavailable at this time.`);
        return json(200, { hypervisor: { ...summary(h, ctx.apiVersion), uptime: hostUptime(h, now()) } });
      },
    },
    {
      method: 'GET', path: `${H}/{hypervisor_id}/servers`,
      handler: async (event, ctx) => {
        if (isAtLeast(ctx.apiVersion, '2.53')) throw notFoundRoute();
        const hosts = await matching(deps.table, pathParam(event, 'hypervisor_id'));
        return json(200, {
          hypervisors: await Promise.all(hosts.map(async (h) => {
            const servers = await serversOn(deps.table, h);
            return { ...summary(h, ctx.apiVersion), ...(servers.length > 0 ? { servers } : {}) };
          })),
        });
      },
    },
    {
      method: 'GET', path: `${H}/{hypervisor_id}/search`,
      handler: async (event, ctx) => {
        if (isAtLeast(ctx.apiVersion, '2.53')) throw notFoundRoute();
        const hosts = await matching(deps.table, pathParam(event, 'hypervisor_id'));
        return json(200, { hypervisors: hosts.map((h) => summary(h, ctx.apiVersion)) });
      },
    },
    ...serviceHandlers(deps),
    ...hostHandlers(deps),
  ];
}

type ServiceAction = { host: string; binary: string; disabled_reason?: string; forced_down?: boolean | string };
type ServiceUpdate = { status?: 'enabled' | 'disabled'; disabled_reason?: string; forced_down?: boolean | string };

function serviceHandlers(deps: AdmissionDeps): RouteHandler[] {
  const S = '/v2.1/os-services';
  const now = () => (deps.now ?? Date.now)();
  /** Before 2.53: PUT /os-services/{enable,disable,disable-log-reason,force-down} with host and binary. */
  const action = (kind: string) => async (event: { body?: unknown }, ctx: ApiContext) => {
    if (isAtLeast(ctx.apiVersion, '2.53')) throw notFoundRoute();
    const body = checkBody<ServiceAction>('serviceAction', ctx.apiVersion, event.body);
    if (body.binary !== BINARY) throw new NotFound(`Service ${body.binary} on host ${body.host} could not be found.`);
    if (!(await readHosts(deps.table)).some((h) => h.name === body.host)) throw new NotFound(`Host '${body.host}' is not mapped to any cell`);
    const base = { host: body.host, binary: body.binary };
    if (kind === 'force-down') {
      if (!isAtLeast(ctx.apiVersion, '2.11')) throw notFoundRoute();
      if (body.forced_down === undefined) throw new BadRequest('Invalid input for field/attribute forced_down. Value: None.');
      const forced = isTrue(body.forced_down);
      await setHostService(deps.table, body.host, { forcedDown: forced }, now());
      return json(200, { service: { ...base, forced_down: forced } });
    }
    if (kind === 'disable-log-reason') {
      if (!body.disabled_reason) throw new BadRequest('Missing disabled reason field');
      await setHostService(deps.table, body.host, { enabled: false, disabledReason: body.disabled_reason }, now());
      return json(200, { service: { ...base, status: 'disabled', disabled_reason: body.disabled_reason } });
    }
    const enabled = kind === 'enable';
    await setHostService(deps.table, body.host, { enabled, disabledReason: null }, now());
    return json(200, { service: { ...base, status: enabled ? 'enabled' : 'disabled' } });
  };
  return [
    {
      method: 'GET', path: S,
      handler: async (event, ctx) => {
        const query = event.queryStringParameters ?? {};
        const hosts = (await readHosts(deps.table)).filter((h) => (query.host === undefined || h.name === query.host)
          && (query.binary === undefined || query.binary === BINARY));
        return json(200, { services: hosts.map((h) => serviceView(h, ctx.apiVersion)) });
      },
    },
    ...SERVICE_ACTIONS.map((kind): RouteHandler => ({
      method: 'PUT', path: `${S}/${kind}`,
      handler: action(kind),
    })),
    {
      method: 'PUT', path: `${S}/{service_id}`,
      handler: async (event, ctx) => {
        if (!isAtLeast(ctx.apiVersion, '2.53')) throw notFoundRoute();
        const id = pathParam(event, 'service_id');
        const body = checkBody<ServiceUpdate>('updateService', ctx.apiVersion, event.body);
        const host = (await readHosts(deps.table)).find((h) => h.serviceId === id.toLowerCase());
        if (!host) throw new NotFound(`Service ${id} could not be found.`);
        if (body.status !== 'disabled' && body.disabled_reason !== undefined) {
          throw new BadRequest('Specifying \'disabled_reason\' with status \'enabled\' is invalid.');
        }
        const updated = await setHostService(deps.table, host.name, {
          ...(body.status ? { enabled: body.status === 'enabled', disabledReason: body.status === 'enabled' ? null : body.disabled_reason ?? null } : {}),
          ...(body.forced_down !== undefined ? { forcedDown: isTrue(body.forced_down) } : {}),
        }, now());
        return json(200, { service: serviceView(updated, ctx.apiVersion) });
      },
    },
  ];
}

type HostUpdate = { status?: string; maintenance_mode?: string };

/**
 * os-hosts, deprecated at 2.43 (gone from it): each host's compute service and its resources,
 * and the host-wide changes Nova passes to the host's driver. Of those, `status` (whether the
 * host takes new servers) is the service's enabled flag, the one the scheduler reads; a
 * maintenance window and power actions are what libvirt's driver refuses (501) and what a
 * simulated host has no meaning for, so they are refused the same way, after the host is found.
 */
function hostHandlers(deps: AdmissionDeps): RouteHandler[] {
  const gone = (ctx: ApiContext) => { if (isAtLeast(ctx.apiVersion, '2.43')) throw notFoundRoute(); };
  const now = () => (deps.now ?? Date.now)();
  /** The host, or Nova's 404 (its host mapping is looked up first: HostMappingNotFound). */
  const hostNamed = async (name: string) => {
    const host = (await readHosts(deps.table)).find((h) => h.name === name);
    if (!host) throw new NotFound(`Host '${name}' is not mapped to any cell`);
    return host;
  };
  const powerAction = (action: 'startup' | 'shutdown' | 'reboot'): RouteHandler => ({
    method: 'GET', path: `/v2.1/os-hosts/{host_name}/${action}`,
    handler: async (event, ctx) => {
      gone(ctx);
      await hostNamed(pathParam(event, 'host_name'));
      throw new NotImplemented();
    },
  });
  return [
    {
      method: 'GET', path: '/v2.1/os-hosts',
      handler: async (event, ctx) => {
        gone(ctx);
        // Nova filters only by a zone that is not empty (`if zone:`): a blank one lists every host.
        const zone = event.queryStringParameters?.zone;
        const hosts = (await readHosts(deps.table)).filter((h) => !zone || h.zone === zone);
        return json(200, { hosts: hosts.map((h) => ({ host_name: h.name, service: 'compute', zone: h.zone })) });
      },
    },
    {
      method: 'GET', path: '/v2.1/os-hosts/{host_name}',
      handler: async (event, ctx) => {
        gone(ctx);
        const name = pathParam(event, 'host_name');
        const h = (await readHosts(deps.table)).find((x) => x.name === name);
        if (!h) throw new NotFound(`Compute host ${name} could not be found.`);
        const resource = (project: string, cpu: number, memory_mb: number, disk_gb: number) => ({ resource: { host: h.name, project, cpu, memory_mb, disk_gb } });
        return json(200, {
          host: [
            resource('(total)', h.vcpus, h.ram, h.disk),
            resource('(used_now)', h.usedVcpus, h.usedRam, h.usedDisk),
            resource('(used_max)', h.usedVcpus, h.usedRam, h.usedDisk),
          ],
        });
      },
    },
    {
      method: 'PUT', path: '/v2.1/os-hosts/{host_name}',
      handler: async (event, ctx) => {
        gone(ctx);
        const body = checkBody<HostUpdate>('updateHost', ctx.apiVersion, event.body);
        const host = await hostNamed(pathParam(event, 'host_name'));
        // Refused before the status is set, so that a request refused changes nothing (Nova sets the status first).
        if (body.maintenance_mode !== undefined) throw new NotImplemented();
        const enabled = body.status!.trim().toLowerCase() === 'enable';
        await setHostService(deps.table, host.name, { enabled, disabledReason: null }, now());
        return json(200, { host: host.name, status: enabled ? 'enabled' : 'disabled' });
      },
    },
    powerAction('startup'),
    powerAction('shutdown'),
    powerAction('reboot'),
  ];
}
