import type { AdmissionDeps } from '../../core/compute/admission.js';
import { accessList, addTenantAccess, removeTenantAccess } from '../../core/compute/flavorAccess.js';
import { deleteExtraSpec, extraSpec, setExtraSpecs, specValues } from '../../core/compute/flavorExtraSpecs.js';
import { findFlavor, type Flavor } from '../../core/compute/flavors.js';
import { BadRequest, NotFound } from '../../core/shared/errors.js';
import { authorize } from '../../core/shared/policy.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, json, pathParam, type ApiContext, type ApiEvent } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { checkBody } from '../serverSchemas.js';
import { flavorOf } from './flavors.js';

// Flavors' admin APIs: extra specs (flavors_extraspecs.py: anyone with a reader role reads them,
// admins write them) and access to private flavors (flavor_access.py: admins only). Each write
// is one conditional update of the flavor's item (functions/core/compute/flavorExtraSpecs.ts,
// flavorAccess.ts); a refused policy writes nothing, as the policy step runs first.

const SPECS = '/v2.1/flavors/{flavor_id}/os-extra_specs';

/** A flavor named by the path, read again after a write (the answer shows what is stored). */
async function reread(deps: AdmissionDeps, flavor: Flavor): Promise<Flavor> {
  return (await findFlavor(deps.table, flavor.id)) ?? flavor;
}

const accessView = (flavor: Flavor) => ({ flavor_access: accessList(flavor).map((tenant_id) => ({ flavor_id: flavor.id, tenant_id })) });

type AccessAction = { addTenantAccess?: { tenant: string }; removeTenantAccess?: { tenant: string } };

async function accessAction(deps: AdmissionDeps, event: ApiEvent, ctx: ApiContext) {
  const body = event.body;
  const names = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
  if (names.length !== 1) throw new BadRequest('There is either none or too many actions in the request body');
  const name = names[0]!;
  if (name === 'addTenantAccess') {
    authorize(ctx.caller, 'os_compute_api:os-flavor-access:add_tenant_access');
    const { addTenantAccess: { tenant } } = checkBody<Required<Pick<AccessAction, 'addTenantAccess'>>>('addTenantAccess', ctx.apiVersion, body);
    const flavor = await flavorOf(deps, event, ctx);
    await addTenantAccess(deps.table, flavor, tenant, isAtLeast(ctx.apiVersion, '2.7'));
    return json(200, accessView(await reread(deps, flavor)));
  }
  if (name === 'removeTenantAccess') {
    authorize(ctx.caller, 'os_compute_api:os-flavor-access:remove_tenant_access');
    const { removeTenantAccess: { tenant } } = checkBody<Required<Pick<AccessAction, 'removeTenantAccess'>>>('removeTenantAccess', ctx.apiVersion, body);
    const flavor = await flavorOf(deps, event, ctx);
    await removeTenantAccess(deps.table, flavor, tenant);
    return json(200, accessView(await reread(deps, flavor)));
  }
  throw new BadRequest(`There is no such action: ${name}`);
}

/** The handlers of flavorAdminRoutes.ts's declarations, loaded on first use. */
export function flavorAdminHandlers(deps: AdmissionDeps): RouteHandler[] {
  return [
    {
      method: 'GET', path: SPECS,
      handler: async (event, ctx) => json(200, { extra_specs: (await flavorOf(deps, event, ctx)).extraSpecs ?? {} }),
    },
    {
      method: 'POST', path: SPECS,
      handler: async (event, ctx) => {
        const body = checkBody<{ extra_specs: Record<string, string | number> }>('createExtraSpecs', ctx.apiVersion, event.body);
        const values = specValues(body.extra_specs);
        await setExtraSpecs(deps.table, await flavorOf(deps, event, ctx), values);
        return json(200, body);
      },
    },
    {
      method: 'GET', path: `${SPECS}/{key}`,
      handler: async (event, ctx) => {
        const key = pathParam(event, 'key');
        return json(200, { [key]: extraSpec(await flavorOf(deps, event, ctx), key) });
      },
    },
    {
      method: 'PUT', path: `${SPECS}/{key}`,
      handler: async (event, ctx) => {
        const body = checkBody<Record<string, string | number>>('updateExtraSpec', ctx.apiVersion, event.body);
        const values = specValues(body);
        const key = pathParam(event, 'key');
        if (!Object.hasOwn(values, key)) throw new BadRequest('Request body and URI mismatch');
        await setExtraSpecs(deps.table, await flavorOf(deps, event, ctx), values);
        return json(200, body);
      },
    },
    {
      method: 'DELETE', path: `${SPECS}/{key}`,
      handler: async (event, ctx) => {
        await deleteExtraSpec(deps.table, await flavorOf(deps, event, ctx), pathParam(event, 'key'));
        return empty(200);
      },
    },
    {
      method: 'GET', path: '/v2.1/flavors/{flavor_id}/os-flavor-access',
      handler: async (event, ctx) => {
        const flavor = await flavorOf(deps, event, ctx);
        if (flavor.isPublic) throw new NotFound('Access list not available for public flavors.');
        return json(200, accessView(flavor));
      },
    },
    {
      // Both actions are admin's; which one is asked is known from the body, checked before any read.
      method: 'POST', path: '/v2.1/flavors/{flavor_id}/action',
      handler: (event, ctx) => accessAction(deps, event, ctx),
    },
  ];
}
