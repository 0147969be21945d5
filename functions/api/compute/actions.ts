import { randomBytes } from 'node:crypto';
import { withAttachments } from '../../core/compute/attachmentItems.js';
import { requestOperation, type Accepted, type AdmissionDeps } from '../../core/compute/admission.js';
import { GUEST_ACTIONS } from './guestActions.js';
import { SNAPSHOT_ACTIONS } from './snapshotActions.js';
import { MOVE_ACTIONS } from './moveActions.js';
import { operationRow } from '../../core/compute/catalogue.js';
import type { PolicyName } from '../../core/shared/policy.js';
import type { OperationName } from '../../core/compute/catalogue.js';
import type { ClaimGuard } from '../../core/compute/claimInstance.js';
import { changesFlavor } from '../../core/compute/guards.js';
import { checkUpsize } from '../../core/placement/quotas/upsize.js';
import { BadRequest } from '../../core/shared/errors.js';
import { cachedFlavors, findFlavor } from '../../core/compute/flavors.js';
import { imageRefusal, imageToBoot } from '../../core/compute/bootImage.js';
import { resetState, setLocked } from '../../core/compute/instanceStore.js';
import { addSecurityGroup, removeSecurityGroup } from '../../core/compute/serverSecurityGroups.js';
import type { VmState } from '../../core/compute/states.js';
import { empty, json, pathParam, requester, type ApiContext, type ApiResult, type ApiRoute } from '../http.js';
import { serverView } from '../views.js';
import { excerpt } from '../excerpt.js';
import { checkMetadataQuota, serverViewOptions, viewFlavors } from './servers.js';
import { MAX_VERSION, isAtLeast } from '../apiVersion.js';
import { checkBody, normalIPv6, requestSchemas, type RequestSchemaName } from '../serverSchemas.js';
import { getServer } from '../../core/compute/instanceStore.js';
import { setServerFields } from '../../core/compute/serverFields.js';
import { PowerState } from '../../core/compute/states.js';
import { getKeyPair } from '../../core/compute/keypairs.js';
import { NotFound } from '../../core/shared/errors.js';
import type { Instance } from '../../core/compute/instance.js';

export type Body = Record<string, unknown>;

export interface QueuedAction {
  /** Its request schema's name in the one registry (serverSchemas.ts requestSchemas), built for the request's microversion. */
  readonly schema: RequestSchemaName;
  /** The first microversion that has the action (Nova's 404 before it). */
  readonly since?: string;
  readonly op: (body: Body) => OperationName;
  /** What the claim carries for the worker; may read what Nova's API reads first (the server, its image). */
  readonly params?: (body: Body, deps: AdmissionDeps, ctx: ApiContext, instanceId: string) => Record<string, unknown> | Promise<Record<string, unknown>>;
  readonly guard?: (deps: AdmissionDeps, body: Body, ctx: ApiContext, instanceId: string) => Promise<ClaimGuard>;
  /** Instance fields the claim sets (Nova saves them at the API, before the compute side runs). */
  readonly fields?: (deps: AdmissionDeps, ctx: ApiContext, body: Body, instanceId: string) => Promise<Record<string, unknown>>;
  /** Nova's status for the action; rebuild also answers with the server. */
  readonly status: 202 | 204;
  readonly withServer?: true;
  /** Nova's answer when it is more than a status (rescue's password, createImage's image). */
  readonly answer?: (deps: AdmissionDeps, ctx: ApiContext, accepted: Accepted, body: Body) => Promise<ApiResult>;
}

export interface DirectAction {
  /** Its request schema's name in the one registry (serverSchemas.ts requestSchemas), built for the request's microversion. */
  readonly schema: RequestSchemaName;
  readonly since?: string;
  /** Nova's 202 unless it answers otherwise (os-getConsoleOutput's 200 and output). */
  readonly run: (deps: AdmissionDeps, ctx: ApiContext, instanceId: string, body: Body) => Promise<void | ApiResult>;
}

/**
 * A resize must name an existing flavor (Nova: 400) other than the current one (the guard), and
 * a larger one must fit the project's cores and ram quota (Nova's 403, checked as its API does).
 */
async function resizeGuard(deps: AdmissionDeps, body: Body, ctx: ApiContext, instanceId: string): Promise<ClaimGuard> {
  const flavorRef = String(body.flavorRef);
  const next = await findFlavor(deps.table, flavorRef);
  if (!next) throw new BadRequest(`Flavor ${excerpt(flavorRef)} could not be found.`);
  const server = await getServer(deps.table, ctx.caller, instanceId);
  const current = await findFlavor(deps.table, server.flavorId, true);
  if (current) await checkUpsize(deps.table, server.projectId, current, next);
  return changesFlavor(flavorRef);
}

/** What a rebuild changes on the instance, saved with its claim as Nova saves it at the API. */
async function rebuildFields(deps: AdmissionDeps, ctx: ApiContext, b: Body, instanceId: string): Promise<Record<string, unknown>> {
  // Nova's rebuild reads the server, then the image as the caller: one the caller cannot read is
  // a 400 (for a server the caller sees), one that is not active or does not fit the server's
  // flavor another. The server is read only when the image could fail it (Nova has the same
  // window between that check and the rebuild's claim as here).
  const image = await imageToBoot(deps.table, ctx.caller, String(b.imageRef));
  if (!image) {
    await getServer(deps.table, ctx.caller, instanceId);
    throw new BadRequest('Cannot find image for rebuild');
  }
  if ((await cachedFlavors(deps.table)).some((f) => imageRefusal(image, f))) {
    const server = await getServer(deps.table, ctx.caller, instanceId);
    const flavor = await findFlavor(deps.table, server.flavorId, true);
    const refusal = flavor && imageRefusal(image, flavor);
    if (refusal) throw refusal;
  }
  checkMetadataQuota(b.metadata as Record<string, string> | undefined);
  if (typeof b.key_name === 'string') {
    try {
      await getKeyPair(deps.table, ctx.caller.userId, b.key_name);
    } catch (err) {
      if (err instanceof NotFound) throw new BadRequest('Invalid key_name provided.');
      throw err;
    }
  }
  const fields: Record<string, unknown> = { imageId: String(b.imageRef) };
  const copy: [string, string][] = [
    ['name', 'name'], ['metadata', 'metadata'], ['accessIPv4', 'accessIPv4'], ['accessIPv6', 'accessIPv6'],
    ['OS-DCF:diskConfig', 'diskConfig'], ['description', 'description'], ['key_name', 'keyName'],
    ['user_data', 'userData'], ['trusted_image_certificates', 'trustedCerts'], ['hostname', 'hostname'],
  ];
  for (const [from, to] of copy) if (b[from] !== undefined) fields[to] = b[from];
  if (typeof fields.accessIPv6 === 'string') fields.accessIPv6 = normalIPv6(fields.accessIPv6);
  return fields;
}

/**
 * Nova's answer to a rebuild: before 2.75 the basic server (key_name from 2.54, user_data from
 * 2.57, server_groups from 2.71), from 2.75 the whole server as GET shows it; always the admin
 * password, the one asked for or a new one.
 */
async function rebuildView(deps: AdmissionDeps, ctx: ApiContext, claimed: Instance, b: Body) {
  const v = ctx.apiVersion;
  // The item as the claim returned it, its attachments' details joined in.
  const [instance] = await withAttachments(deps.table, [claimed]) as [Instance];
  const options = serverViewOptions(instance, ctx, await viewFlavors(deps, ctx));
  const view = serverView(instance, ctx.baseUrl, options, {
    full: isAtLeast(v, '2.75'), serverGroups: true, keyName: isAtLeast(v, '2.54'), extendedUserData: false,
  });
  return {
    ...view,
    ...(isAtLeast(v, '2.57') ? { user_data: instance.userData ?? null } : {}),
    adminPass: typeof b.adminPass === 'string' ? b.adminPass : randomBytes(9).toString('base64url'),
  };
}

const simple = (op: OperationName, status: 202 | 204 = 202, schema: RequestSchemaName = 'unvalidated'): QueuedAction =>
  ({ schema, op: () => op, status });

/** The body of POST /servers/{id}/action is one key: Nova's action name. */
const ACTIONS: Record<string, QueuedAction | DirectAction> = {
  rebuild: {
    schema: 'rebuild', op: () => 'rebuild', status: 202, withServer: true,
    params: (b) => ({ imageRef: b.imageRef }), fields: rebuildFields,
  },
  resize: {
    schema: 'resize', op: () => 'resize', status: 202,
    params: (b) => ({ flavorRef: String(b.flavorRef) }), guard: resizeGuard,
    fields: async (_deps, _ctx, b) => (b['OS-DCF:diskConfig'] ? { diskConfig: b['OS-DCF:diskConfig'] } : {}),
  },
  confirmResize: simple('confirm_resize', 204),
  revertResize: simple('revert_resize'),
  shelve: simple('shelve'),
  shelveOffload: simple('shelve_offload'),
  unshelve: simple('unshelve'),
  'os-start': simple('start'),
  'os-stop': simple('stop'),
  reboot: {
    schema: 'reboot', status: 202,
    op: (b) => (String(b.type).toUpperCase() === 'HARD' ? 'reboot_hard' : 'reboot_soft'),
  },
  pause: simple('pause'),
  unpause: simple('unpause'),
  suspend: simple('suspend'),
  resume: simple('resume'),
  lock: {
    schema: 'lock',
    run: (deps, ctx, id, body) => setLocked(deps.table, ctx.caller, id, true, body.locked_reason as string | undefined),
  },
  unlock: { schema: 'unvalidated', run: (deps, ctx, id) => setLocked(deps.table, ctx.caller, id, false) },
  // taskgate deletes at once (Nova with reclaim_instance_interval 0): only a server an operator
  // put in soft_deleted can be restored; any other is Nova's 409.
  restore: {
    schema: 'unvalidated',
    run: async (deps, ctx, id) => {
      await setServerFields(deps.table, ctx.caller, id, { vmState: 'active', powerState: PowerState.RUNNING }, {
        rule: { verb: 'restore', vmStates: ['soft_deleted'], idle: true, lock: true },
      });
    },
  },
  addSecurityGroup: {
    schema: 'securityGroupAction',
    run: (deps, ctx, id, body) => addSecurityGroup(deps.table, ctx.caller, id, String(body.name)),
  },
  removeSecurityGroup: {
    schema: 'securityGroupAction',
    run: (deps, ctx, id, body) => removeSecurityGroup(deps.table, ctx.caller, id, String(body.name)),
  },
  'os-resetState': {
    schema: 'resetState',
    run: (deps, ctx, id, body) => resetState(deps.table, ctx.caller, id, body.state as VmState),
  },
  ...SNAPSHOT_ACTIONS,
  ...GUEST_ACTIONS,
  ...MOVE_ACTIONS,
};

/**
 * The policies of the operations the action route admits, each checked by admission beyond the
 * route's own (an administrator's move): what the route stands for besides its declared policy.
 */
export function actionPolicies(): PolicyName[] {
  const queued = Object.values(ACTIONS).filter((a): a is QueuedAction => 'op' in a);
  return [...new Set(queued.map((a) => operationRow(a.op({})).policy))];
}

/**
 * The body of POST /servers/{id}/action as one JSON Schema, for the OpenAPI document: one
 * alternative per action, each the schema its value is validated with.
 */
export function actionBodySchema() {
  return {
    type: 'object',
    oneOf: Object.entries(ACTIONS).map(([name, action]) => ({
      type: 'object', required: [name], additionalProperties: false,
      properties: { [name]: requestSchemas[action.schema](MAX_VERSION) },
    })),
  };
}

export function actionRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [{
    method: 'POST', path: '/v2.1/servers/{server_id}/action', policy: 'os_compute_api:servers:action', body: actionBodySchema(),
    doc: { summary: `Server actions: ${Object.keys(ACTIONS).join(', ')}`, success: [202, 204] },
    handler: async (event, ctx): Promise<ApiResult> => {
      const instanceId = pathParam(event, 'server_id');
      const body = event.body;
      const names = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
      if (names.length !== 1) throw new BadRequest('There is either none or too many actions in the request body');
      const name = names[0]!;
      const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
      if (!action) {
        // Nova finds the server before it looks for the action: an unknown server is 404 first.
        await getServer(deps.table, ctx.caller, instanceId);
        throw new BadRequest(`There is no such action: ${excerpt(name)}`);
      }
      if (action.since && !isAtLeast(ctx.apiVersion, action.since)) throw new NotFound('The resource could not be found.');
      const value = (body as Body)[name];
      const args = checkBody<Body | null>(action.schema, ctx.apiVersion, value) ?? {};

      if ('run' in action) return (await action.run(deps, ctx, instanceId, args)) ?? empty(202);
      const accepted = await requestOperation(deps, {
        instanceId, op: action.op(args), ...requester(ctx), params: await action.params?.(args, deps, ctx, instanceId),
        guard: await action.guard?.(deps, args, ctx, instanceId), fields: await action.fields?.(deps, ctx, args, instanceId),
      });
      if (action.withServer) return json(action.status, { server: await rebuildView(deps, ctx, accepted.instance, args) });
      if (action.answer) return action.answer(deps, ctx, accepted, args);
      return empty(action.status);
    },
  }];
}
