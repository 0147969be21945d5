import type { AdmissionDeps } from '../../core/compute/admission.js';
import { BadRequest, Forbidden, NotFound } from '../../core/shared/errors.js';
import {
  createFlavor, deleteFlavor, findFlavor, flavorQueryNumber, isFlavorVisible, listFlavors, updateFlavorDescription, type Flavor,
} from '../../core/compute/flavors.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, json, pathParam, type ApiContext, type ApiEvent, type ApiRoute } from '../http.js';
import { pageLimit } from '../listQuery.js';
import { checkBody, isTrue } from '../serverSchemas.js';
import { flavorView } from '../views.js';

// Flavors (nova/api/openstack/compute/flavors.py, flavor_manage.py): lists with Nova's filters
// and paging, and, for administrators, create, delete and (2.55) a description update.


/** The flavor the path names, or Nova's 404 (also for a private flavor the caller's project has no access to). */
export async function flavorOf(deps: AdmissionDeps, event: ApiEvent, ctx: Pick<ApiContext, 'caller'>) {
  const flavorId = pathParam(event, 'flavor_id');
  const flavor = await findFlavor(deps.table, flavorId);
  if (!flavor || !isFlavorVisible(flavor, ctx.caller)) throw new NotFound(`Flavor ${flavorId} could not be found.`);
  return flavor;
}

function requireAdmin(ctx: ApiContext, rule: string) {
  if (!ctx.caller.isAdmin) throw new Forbidden(`Policy doesn't allow os_compute_api:os-flavor-manage:${rule} to be performed.`);
}

/** GET /flavors[/detail]: minDisk, minRam, is_public (admins), sort by id, limit and marker. */
async function flavorPage(deps: AdmissionDeps, event: ApiEvent, ctx: ApiContext) {
  const q = event.queryStringParameters ?? {};
  let isPublic: boolean | 'none' | undefined;
  // oslo's bool_from_string: 't' and 'y' are true too.
  if (q.is_public !== undefined) isPublic = q.is_public.toLowerCase() === 'none' ? 'none' : isTrue(q.is_public) || ['t', 'y'].includes(q.is_public.toLowerCase());
  const all = await listFlavors(deps.table, {
    minDisk: flavorQueryNumber('minDisk', q.minDisk), minRam: flavorQueryNumber('minRam', q.minRam),
    isAdmin: ctx.caller.isAdmin, projectId: ctx.caller.projectId, isPublic,
  });
  const limit = pageLimit(q.limit);
  let start = 0;
  if (q.marker !== undefined) {
    const at = all.findIndex((f) => f.id === q.marker);
    if (at < 0) throw new BadRequest(`marker [${q.marker}] not found`);
    start = at + 1;
  }
  const flavors = all.slice(start, start + limit);
  const more = limit > 0 && flavors.length === limit && start + limit < all.length;
  return { flavors, next: more ? flavors.at(-1)!.id : undefined };
}

interface CreateBody { flavor: Record<string, unknown> }

export function flavorRoutes(deps: AdmissionDeps): ApiRoute[] {
  const list = (detail: boolean): ApiRoute['handler'] => async (event, ctx) => {
    const page = await flavorPage(deps, event, ctx);
    const links = page.next ? {
      flavors_links: [{
        rel: 'next',
        href: `${ctx.baseUrl}/v2.1/flavors${detail ? '/detail' : ''}?${new URLSearchParams({
          ...(event.queryStringParameters as Record<string, string> ?? {}), marker: page.next,
        })}`,
      }],
    } : {};
    return json(200, { flavors: page.flavors.map((f) => flavorView(f, ctx.baseUrl, detail, ctx.apiVersion)), ...links });
  };
  const num = (v: unknown, fallback: number) => (v === undefined || v === null ? fallback : Number(v));
  return [
    {
      method: 'GET', path: '/v2.1/flavors', policy: 'os_compute_api:flavors',
      handler: list(false), doc: { summary: 'List flavors', success: [200], query: ['minDisk', 'minRam', 'is_public', 'limit', 'marker'] },
    },
    {
      method: 'GET', path: '/v2.1/flavors/detail', policy: 'os_compute_api:flavors', handler: list(true),
      doc: { summary: 'List flavors with details', success: [200], query: ['minDisk', 'minRam', 'is_public', 'limit', 'marker'] },
    },
    {
      method: 'GET', path: '/v2.1/flavors/{flavor_id}', policy: 'os_compute_api:flavors',
      doc: { summary: 'Show a flavor', success: [200] },
      handler: async (event, ctx) => json(200, { flavor: flavorView(await flavorOf(deps, event, ctx), ctx.baseUrl, true, ctx.apiVersion) }),
    },
    {
      method: 'POST', path: '/v2.1/flavors', policy: 'os_compute_api:os-flavor-manage:create', body: {},
      doc: { summary: 'Create a flavor (admin)', success: [200] },
      handler: async (event, ctx) => {
        requireAdmin(ctx, 'create');
        const { flavor: f } = checkBody<CreateBody>('createFlavor', ctx.apiVersion, event.body);
        const isPublic = f['os-flavor-access:is_public'];
        const created: Flavor = await createFlavor(deps.table, {
          id: f.id === undefined || f.id === null ? null : String(f.id),
          name: String(f.name), ram: Number(f.ram), vcpus: Number(f.vcpus), disk: Number(f.disk),
          ephemeral: num(f['OS-FLV-EXT-DATA:ephemeral'], 0), swap: num(f.swap, 0), rxtxFactor: num(f.rxtx_factor, 1),
          isPublic: isPublic === undefined ? true : isTrue(isPublic),
          description: (f.description as string | null | undefined) ?? null,
        });
        return json(200, { flavor: flavorView(created, ctx.baseUrl, true, ctx.apiVersion) });
      },
    },
    {
      method: 'PUT', path: '/v2.1/flavors/{flavor_id}', policy: 'os_compute_api:os-flavor-manage:update', body: {},
      doc: { summary: 'Update a flavor\'s description (admin, 2.55)', success: [200] },
      handler: async (event, ctx) => {
        if (!isAtLeast(ctx.apiVersion, '2.55')) throw new NotFound('The resource could not be found.');
        requireAdmin(ctx, 'update');
        const body = checkBody<{ flavor: { description: string | null } }>('updateFlavor', ctx.apiVersion, event.body);
        const updated = await updateFlavorDescription(deps.table, pathParam(event, 'flavor_id'), body.flavor.description);
        return json(200, { flavor: flavorView(updated, ctx.baseUrl, true, ctx.apiVersion) });
      },
    },
    {
      method: 'DELETE', path: '/v2.1/flavors/{flavor_id}', policy: 'os_compute_api:os-flavor-manage:delete',
      doc: { summary: 'Delete a flavor (admin)', success: [202] },
      handler: async (event, ctx) => {
        requireAdmin(ctx, 'delete');
        await deleteFlavor(deps.table, pathParam(event, 'flavor_id'));
        return empty(202);
      },
    },
  ];
}

