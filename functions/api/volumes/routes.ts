import type { AdmissionDeps } from '../../core/compute/admission.js';
import { BadRequest, Forbidden } from '../../core/shared/errors.js';
import { allows } from '../../core/shared/policy.js';
import { QUOTA_DEFAULTS, QuotaExceeded, readUsage, settleStale } from '../../core/volumes/quotas.js';
import { DEFAULT_TYPE, findVolumeType, VOLUME_TYPES } from '../../core/volumes/types.js';
import {
  createVolume, deleteVolume, extendVolume, getVolume, listVolumes, resetVolumeStatus, updateVolume, type VolumeBackend, type VolumeDeps,
} from '../../core/volumes/volumes.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, HttpFault, json, pathParam, type ApiContext, type ApiEvent, type ApiRoute, type Route } from '../http.js';
import { actionBody, createBody, updateBody } from './bodies.js';
import { isAllTenants, nextLink, page } from './listQuery.js';
import { volumeDetail, volumeSummary, volumeTypeView } from './views.js';
import { volumeVersionRoutes } from './versions.js';

// Cinder's Block Storage API v3 (the subset taskgate serves) under `/volume`, as a catalog lists
// it: `<base>/volume/v3/<project_id>`. Its volumes are the items Nova's attach reserves.

export interface VolumeRouteDeps extends AdmissionDeps {
  /** Where volumes are grown (an extend holds its volume meanwhile); the simulated one when absent. */
  readonly volumeBackend?: VolumeBackend;
}

const BASE = '/volume/v3/{project_id}';

/**
 * The project the path names. Cinder answers another project's path with 400 "Malformed request
 * url"; an administrator may name any project, whose volumes the request then lists and makes.
 */
function projectOf(event: ApiEvent, ctx: ApiContext): string {
  const project = pathParam(event, 'project_id');
  if (project !== ctx.caller.projectId && !ctx.caller.isAdmin) throw new BadRequest('Malformed request url');
  return project;
}

/** Cinder's QuotaError: 413 overLimit, with Retry-After. */
const quotaFault = (err: unknown): never => {
  if (err instanceof QuotaExceeded) throw new HttpFault('overLimit', 413, err.message, { 'retry-after': '0' });
  throw err;
};

const query = (event: ApiEvent) => (event.queryStringParameters ?? {}) as Record<string, string | undefined>;

export function volumeRoutes(deps: VolumeRouteDeps): ApiRoute[] {
  const volumeDeps = (): VolumeDeps => ({
    table: deps.table, leaseMs: deps.reservationLeaseMs ?? deps.claimLeaseMs, backend: deps.volumeBackend, now: deps.now,
  });
  const clock = () => (deps.now ?? Date.now)();

  const list = (detail: boolean): Route => async (event, ctx) => {
    const project = projectOf(event, ctx);
    const q = query(event);
    // Cinder honours all_tenants (and project_id with it) for administrators only, silently.
    const all = ctx.caller.isAdmin && isAllTenants(q);
    const scope = all ? (q.project_id ? { projectId: q.project_id } : 'all' as const) : { projectId: project };
    const { items, more } = page(await listVolumes(deps.table, scope), q);
    const href = `${ctx.baseUrl}/volume/v3/${project}/volumes${detail ? '/detail' : ''}`;
    return json(200, {
      volumes: items.map((v) => (detail ? volumeDetail(v, ctx, project) : volumeSummary(v, ctx.baseUrl, project))),
      ...(more ? { volumes_links: nextLink(href, q, items.at(-1)!) } : {}),
    });
  };

  const usage = async (projectId: string) => {
    await settleStale({ table: deps.table, leaseMs: volumeDeps().leaseMs }, projectId, clock());
    return readUsage(deps.table, projectId);
  };

  return [
    ...volumeVersionRoutes(),
    {
      method: 'GET', path: `${BASE}/volumes`, policy: 'volume:get_all', handler: list(false),
      doc: { summary: 'List volumes', success: [200] },
    },
    {
      method: 'GET', path: `${BASE}/volumes/detail`, policy: 'volume:get_all', handler: list(true),
      doc: { summary: 'List volumes with details', success: [200] },
    },
    {
      method: 'POST', path: `${BASE}/volumes`, policy: 'volume:create', body: { type: 'object', required: ['volume'] },
      doc: { summary: 'Create a volume', success: [202] },
      handler: async (event, ctx) => {
        const project = projectOf(event, ctx);
        const body = createBody(event.body, ctx.apiVersion);
        const type = body.volumeType ? findVolumeType(body.volumeType) : DEFAULT_TYPE;
        if (body.availabilityZone !== undefined && body.availabilityZone !== 'nova') {
          throw new BadRequest(`Availability zone '${body.availabilityZone.slice(0, 255)}' is invalid.`);
        }
        const volume = await createVolume(volumeDeps(), ctx.caller, {
          requestId: ctx.requestId, projectId: project, size: body.size, name: body.name, description: body.description,
          volumeType: type, metadata: body.metadata, availabilityZone: 'nova',
        }).catch(quotaFault);
        return json(202, { volume: volumeDetail(volume, ctx, project, false) });
      },
    },
    {
      method: 'GET', path: `${BASE}/volumes/{volume_id}`, policy: 'volume:get',
      doc: { summary: 'Show a volume', success: [200] },
      handler: async (event, ctx) => {
        const project = projectOf(event, ctx);
        const volume = await getVolume(deps.table, ctx.caller, pathParam(event, 'volume_id'));
        return json(200, { volume: volumeDetail(volume, ctx, project) });
      },
    },
    {
      method: 'PUT', path: `${BASE}/volumes/{volume_id}`, policy: 'volume:update', body: { type: 'object', required: ['volume'] },
      doc: { summary: 'Update a volume', success: [200] },
      handler: async (event, ctx) => {
        const project = projectOf(event, ctx);
        const change = updateBody(event.body, ctx.apiVersion);
        const volume = await updateVolume(deps.table, ctx.caller, pathParam(event, 'volume_id'), change, clock());
        return json(200, { volume: volumeDetail(volume, ctx, project, false) });
      },
    },
    {
      method: 'DELETE', path: `${BASE}/volumes/{volume_id}`, policy: 'volume:delete',
      doc: { summary: 'Delete a volume', success: [202] },
      handler: async (event, ctx) => {
        projectOf(event, ctx);
        await deleteVolume(volumeDeps(), ctx.caller, pathParam(event, 'volume_id'));
        return empty(202);
      },
    },
    {
      // One route for every action; each checks its own rule (Cinder's volume_actions.py).
      method: 'POST', path: `${BASE}/volumes/{volume_id}/action`, policy: 'volume:extend', body: { type: 'object' },
      doc: { summary: 'Act on a volume (os-extend, os-reset_status)', success: [202] },
      handler: async (event, ctx) => {
        projectOf(event, ctx);
        const id = pathParam(event, 'volume_id');
        const action = actionBody(event.body);
        if (action.action === 'os-reset_status') {
          if (!allows(ctx.caller, 'volume_extension:volume_admin_actions:reset_status')) {
            throw new Forbidden('Policy doesn\'t allow volume_extension:volume_admin_actions:reset_status to be performed.');
          }
          await resetVolumeStatus(deps.table, id, action.status!, clock());
          return empty(202);
        }
        // From 3.42 an in-use volume may be extended (volume:extend_attached_volume).
        await extendVolume(volumeDeps(), ctx.caller, id, action.newSize, isAtLeast(ctx.apiVersion, '3.42')).catch(quotaFault);
        return empty(202);
      },
    },
    {
      method: 'GET', path: `${BASE}/types`, policy: 'volume_extension:type_get_all',
      doc: { summary: 'List volume types', success: [200] },
      handler: async (event, ctx) => {
        projectOf(event, ctx);
        return json(200, { volume_types: VOLUME_TYPES.map((t) => volumeTypeView(t, ctx)) });
      },
    },
    {
      method: 'GET', path: `${BASE}/types/{type_id}`, policy: 'volume_extension:type_get',
      doc: { summary: 'Show a volume type (or `default`)', success: [200] },
      handler: async (event, ctx) => {
        projectOf(event, ctx);
        const id = pathParam(event, 'type_id');
        return json(200, { volume_type: volumeTypeView(id === 'default' ? DEFAULT_TYPE : findVolumeType(id), ctx) });
      },
    },
    {
      method: 'GET', path: `${BASE}/os-quota-sets/{quota_project_id}`, policy: 'volume_extension:quotas:show',
      doc: { summary: 'Show a project\'s volume quotas (usage=True: with usage)', success: [200] },
      handler: async (event, ctx) => {
        projectOf(event, ctx);
        const target = pathParam(event, 'quota_project_id');
        if (target !== ctx.caller.projectId && !ctx.caller.isAdmin) {
          throw new Forbidden('Policy doesn\'t allow volume_extension:quotas:show to be performed.');
        }
        const withUsage = /^(true|1|yes|on|t|y)$/i.test(query(event).usage ?? '');
        const used = withUsage ? await usage(target) : undefined;
        const limits: Record<string, number> = {
          volumes: QUOTA_DEFAULTS.volumes, gigabytes: QUOTA_DEFAULTS.gigabytes, per_volume_gigabytes: QUOTA_DEFAULTS.per_volume_gigabytes,
          snapshots: 10, backups: 10, backup_gigabytes: 1000, groups: 10,
          ...Object.fromEntries(VOLUME_TYPES.flatMap((t) => ['volumes', 'gigabytes', 'snapshots'].map((r) => [`${r}_${t.name}`, -1]))),
        };
        const inUse = (name: string) => (name === 'volumes' ? used!.volumes : name === 'gigabytes' ? used!.gigabytes : 0);
        return json(200, {
          quota_set: {
            id: target,
            ...Object.fromEntries(Object.entries(limits).map(([name, limit]) => [
              name, used ? { limit, in_use: inUse(name), reserved: 0, allocated: 0 } : limit,
            ])),
          },
        });
      },
    },
    {
      method: 'GET', path: `${BASE}/limits`, policy: 'limits_extension:used_limits',
      doc: { summary: 'Show absolute limits and usage', success: [200] },
      handler: async (event, ctx) => {
        const project = projectOf(event, ctx);
        const used = await usage(project);
        return json(200, {
          limits: {
            rate: [],
            absolute: {
              maxTotalVolumes: QUOTA_DEFAULTS.volumes, maxTotalVolumeGigabytes: QUOTA_DEFAULTS.gigabytes, maxTotalSnapshots: 10,
              maxTotalBackups: 10, maxTotalBackupGigabytes: 1000, totalVolumesUsed: used.volumes, totalGigabytesUsed: used.gigabytes,
              totalSnapshotsUsed: 0, totalBackupsUsed: 0, totalBackupGigabytesUsed: 0,
            },
          },
        });
      },
    },
  ];
}
