import type { AdmissionDeps } from '../../core/compute/admission.js';
import {
  classLimits, DEFAULT_CLASS, deleteProjectLimits, isResource, projectLimits, RESOURCES, setClassLimits, setProjectLimits,
  type Limits, type QuotaResource,
} from '../../core/placement/quotas/limits.js';
import { readUsage, settleStale } from '../../core/placement/quotas/usage.js';
import { groupsInUse } from '../../core/placement/serverGroups.js';
import { BadRequest, Forbidden } from '../../core/shared/errors.js';
import { authorize, refusal, type PolicyName } from '../../core/shared/policy.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { empty, json, pathParam, type ApiContext, type ApiEvent } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { checkBody, isTrue } from '../serverSchemas.js';

// Nova's quotas (nova/api/openstack/compute/quota_sets.py, quota_classes.py) and limits
// (limits.py, views/limits.py), as each microversion shows them: nova-network's resources go
// away at 2.36 (quota classes: 2.50), injected files' at 2.57, maxImageMeta at 2.39. Usage is
// what admission charged (functions/core/placement/quotas/usage.ts): instances, cores and ram.

const NOVA_NETWORK: QuotaResource[] = ['fixed_ips', 'floating_ips', 'security_groups', 'security_group_rules'];
const INJECTED: QuotaResource[] = ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];

function hidden(v: ApiVersion, networkGoneAt: string): QuotaResource[] {
  if (isAtLeast(v, '2.57')) return [...NOVA_NETWORK, ...INJECTED];
  return isAtLeast(v, networkGoneAt) ? NOVA_NETWORK : [];
}

function quotaSet<T>(values: Record<QuotaResource, T>, shown: (r: QuotaResource) => boolean, id?: string) {
  return { ...(id !== undefined ? { id } : {}), ...Object.fromEntries(RESOURCES.filter(shown).map((r) => [r, values[r]])) };
}

const setsShown = (v: ApiVersion) => { const h = hidden(v, '2.36'); return (r: QuotaResource) => !h.includes(r); };
/** Quota classes hid server groups before 2.50. */
const classesShown = (v: ApiVersion) => {
  const h = hidden(v, '2.50');
  return (r: QuotaResource) => !h.includes(r) && (isAtLeast(v, '2.50') || (r !== 'server_groups' && r !== 'server_group_members'));
};

/** A reader sees only its own project's quotas; an admin any (Nova's PROJECT_READER_OR_ADMIN with the project as target). */
function ownProject(ctx: ApiContext, projectId: string, policy: PolicyName) {
  if (!ctx.caller.isAdmin && projectId !== ctx.caller.projectId) throw new Forbidden(refusal(policy));
}

/** What the project uses now: charges of servers that are gone settled first. */
async function inUse(deps: AdmissionDeps, projectId: string): Promise<Record<QuotaResource, number>> {
  const clock = deps.now ?? Date.now;
  await settleStale({ table: deps.table, leaseMs: deps.reservationLeaseMs ?? deps.claimLeaseMs }, projectId, clock());
  const usage = await readUsage(deps.table, projectId);
  const used = Object.fromEntries(RESOURCES.map((r) => [r, 0])) as Record<QuotaResource, number>;
  return { ...used, instances: usage.instances, cores: usage.cores, ram: usage.ram, server_groups: await groupsInUse(deps.table, projectId) };
}

/** The numbers a quota body sets, Nova's `int(value)` of each (the schema allows only digits). */
function requested(body: Record<string, unknown>): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const [k, v] of Object.entries(body)) if (isResource(k) && v !== null && v !== '') out[k] = Number(v);
  return out;
}

const LIMIT_NAMES: Partial<Record<QuotaResource, string[]>> = {
  ram: ['maxTotalRAMSize'], instances: ['maxTotalInstances'], cores: ['maxTotalCores'], key_pairs: ['maxTotalKeypairs'],
  floating_ips: ['maxTotalFloatingIps'], metadata_items: ['maxServerMeta', 'maxImageMeta'], injected_files: ['maxPersonality'],
  injected_file_content_bytes: ['maxPersonalitySize'], security_groups: ['maxSecurityGroups'],
  security_group_rules: ['maxSecurityGroupRules'], server_groups: ['maxServerGroups'], server_group_members: ['maxServerGroupMembers'],
};
const USED_NAMES: Partial<Record<QuotaResource, string>> = {
  ram: 'totalRAMUsed', cores: 'totalCoresUsed', instances: 'totalInstancesUsed', floating_ips: 'totalFloatingIpsUsed',
  security_groups: 'totalSecurityGroupsUsed', server_groups: 'totalServerGroupsUsed',
};

/** views/limits.py: absolute limits and usage, without what the version filters out. */
function limitsView(v: ApiVersion, limits: Limits, used: Record<QuotaResource, number>) {
  const filtered: QuotaResource[] = isAtLeast(v, '2.57')
    ? ['floating_ips', 'security_groups', 'security_group_rules', 'injected_files', 'injected_file_content_bytes']
    : isAtLeast(v, '2.36') ? ['floating_ips', 'security_groups', 'security_group_rules'] : [];
  const absolute: Record<string, number> = {};
  for (const r of RESOURCES) {
    if (filtered.includes(r)) continue;
    for (const name of LIMIT_NAMES[r] ?? []) if (name !== 'maxImageMeta' || !isAtLeast(v, '2.39')) absolute[name] = limits[r];
    const usedName = USED_NAMES[r];
    if (usedName) absolute[usedName] = used[r];
  }
  return { limits: { rate: [], absolute } };
}

/** The handlers of quotaRoutes.ts's declarations, loaded on first use. */
export function quotaHandlers(deps: AdmissionDeps): RouteHandler[] {
  const SETS = '/v2.1/os-quota-sets/{quota_project_id}';
  const project = (event: ApiEvent) => pathParam(event, 'quota_project_id');
  return [
    {
      method: 'GET', path: SETS,
      handler: async (event, ctx) => {
        const id = project(event);
        ownProject(ctx, id, 'os_compute_api:os-quota-sets:show');
        return json(200, { quota_set: quotaSet(await projectLimits(deps.table, id), setsShown(ctx.apiVersion), id) });
      },
    },
    {
      method: 'GET', path: `${SETS}/detail`,
      handler: async (event, ctx) => {
        const id = project(event);
        ownProject(ctx, id, 'os_compute_api:os-quota-sets:detail');
        const [limits, used] = await Promise.all([projectLimits(deps.table, id), inUse(deps, id)]);
        const detail = Object.fromEntries(RESOURCES.map((r) => [r, { in_use: used[r], limit: limits[r], reserved: 0 }])) as Record<QuotaResource, object>;
        return json(200, { quota_set: quotaSet(detail, setsShown(ctx.apiVersion), id) });
      },
    },
    {
      method: 'GET', path: `${SETS}/defaults`,
      handler: async (event, ctx) => json(200, {
        quota_set: quotaSet(await classLimits(deps.table, DEFAULT_CLASS), setsShown(ctx.apiVersion), project(event)),
      }),
    },
    {
      method: 'PUT', path: SETS,
      handler: async (event, ctx) => {
        const id = project(event);
        const { quota_set: body } = checkBody<{ quota_set: Record<string, unknown> }>('updateQuotaSet', ctx.apiVersion, event.body);
        const values = requested(body);
        if (!isTrue(body.force ?? false)) {
          // Nova's check against what is used (its settable minimum); -1 is unlimited.
          const used = await inUse(deps, id);
          for (const [r, limit] of Object.entries(values) as [QuotaResource, number][]) {
            if (limit !== -1 && limit < used[r]) {
              throw new BadRequest(`Quota limit ${limit} for ${r} must be greater than or equal to already used and reserved ${used[r]}.`);
            }
          }
        }
        await setProjectLimits(deps.table, id, values);
        return json(200, { quota_set: quotaSet(await projectLimits(deps.table, id), setsShown(ctx.apiVersion)) });
      },
    },
    {
      method: 'DELETE', path: SETS,
      handler: async (event) => {
        await deleteProjectLimits(deps.table, project(event));
        return empty(202);
      },
    },
    {
      method: 'GET', path: '/v2.1/os-quota-class-sets/{quota_project_id}',
      handler: async (event, ctx) => json(200, {
        quota_class_set: quotaSet(await classLimits(deps.table, project(event)), classesShown(ctx.apiVersion), project(event)),
      }),
    },
    {
      method: 'PUT', path: '/v2.1/os-quota-class-sets/{quota_project_id}',
      handler: async (event, ctx) => {
        const body = checkBody<{ quota_class_set: Record<string, unknown> }>('updateQuotaClassSet', ctx.apiVersion, event.body);
        await setClassLimits(deps.table, project(event), requested(body.quota_class_set));
        return json(200, { quota_class_set: quotaSet(await classLimits(deps.table, project(event)), classesShown(ctx.apiVersion)) });
      },
    },
    {
      method: 'GET', path: '/v2.1/limits',
      handler: async (event, ctx) => {
        const other = event.queryStringParameters?.tenant_id;
        if (other !== undefined) authorize(ctx.caller, 'os_compute_api:limits:other_project');
        const id = other ?? ctx.caller.projectId;
        const [limits, used] = await Promise.all([projectLimits(deps.table, id), inUse(deps, id)]);
        return json(200, limitsView(ctx.apiVersion, limits, used));
      },
    },
  ];
}
