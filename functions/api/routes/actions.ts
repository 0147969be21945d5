import { randomBytes } from 'node:crypto';
import { requestOperation, type AdmissionDeps } from '../../core/admission.js';
import type { OperationName } from '../../core/catalogue.js';
import type { ClaimGuard } from '../../core/claims.js';
import { BadRequest } from '../../core/errors.js';
import { findFlavor } from '../../core/flavors.js';
import { resetState, setLocked } from '../../core/instances.js';
import type { VmState } from '../../core/states.js';
import { empty, json, pathParam, requester, type ApiContext, type ApiResult, type ApiRoute } from '../http.js';
import { schemas, validate, type SchemaName } from '../schemas.js';
import { basicServerView } from '../views.js';
import { excerpt } from '../excerpt.js';
import { serverViewOptions } from './servers.js';

type Body = Record<string, unknown>;

interface QueuedAction {
  readonly schema: SchemaName;
  readonly op: (body: Body) => OperationName;
  readonly params?: (body: Body) => Record<string, unknown>;
  readonly guard?: (body: Body) => ClaimGuard;
  /** Nova's status for the action; rebuild also answers with the server. */
  readonly status: 202 | 204;
  readonly withServer?: true;
}

interface DirectAction {
  readonly schema: SchemaName;
  readonly run: (deps: AdmissionDeps, ctx: ApiContext, instanceId: string, body: Body) => Promise<void>;
}

/** A resize must name an existing flavor other than the current one (Nova: 400). */
function resizeGuard(body: Body): ClaimGuard {
  const flavorRef = String(body.flavorRef);
  if (!findFlavor(flavorRef)) throw new BadRequest(`Flavor ${excerpt(flavorRef)} could not be found.`);
  return {
    condition: '#flavor <> :newFlavor',
    names: { '#flavor': 'flavorId' },
    values: { ':newFlavor': flavorRef },
    refusal: (instance) => instance.flavorId === flavorRef
      ? new BadRequest('When resizing, instances must change flavor!') : undefined,
  };
}

const simple = (op: OperationName, status: 202 | 204 = 202, schema: SchemaName = 'unvalidated'): QueuedAction =>
  ({ schema, op: () => op, status });

/** The body of POST /servers/{id}/action is one key: Nova's action name. */
const ACTIONS: Record<string, QueuedAction | DirectAction> = {
  rebuild: {
    schema: 'rebuild', op: () => 'rebuild', status: 202, withServer: true,
    params: (b) => ({ imageRef: b.imageRef }),
  },
  resize: {
    schema: 'resize', op: () => 'resize', status: 202,
    params: (b) => ({ flavorRef: String(b.flavorRef) }), guard: resizeGuard,
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
  lock: { schema: 'unvalidated', run: (deps, ctx, id) => setLocked(deps.table, ctx.caller, id, true) },
  unlock: { schema: 'unvalidated', run: (deps, ctx, id) => setLocked(deps.table, ctx.caller, id, false) },
  'os-resetState': {
    schema: 'resetState',
    run: (deps, ctx, id, body) => resetState(deps.table, ctx.caller, id, body.state as VmState),
  },
};

/**
 * The body of POST /servers/{id}/action as one JSON Schema, for the OpenAPI document: one
 * alternative per action, each the schema its value is validated with.
 */
export function actionBodySchema() {
  return {
    type: 'object',
    oneOf: Object.entries(ACTIONS).map(([name, action]) => ({
      type: 'object', required: [name], additionalProperties: false,
      properties: { [name]: schemas[action.schema] },
    })),
  };
}

export function actionRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [{
    method: 'POST', path: '/v2.1/servers/{server_id}/action', body: actionBodySchema(),
    doc: { summary: `Server actions: ${Object.keys(ACTIONS).join(', ')}`, success: [202, 204] },
    handler: async (event, ctx): Promise<ApiResult> => {
      const instanceId = pathParam(event, 'server_id');
      const body = event.body;
      const names = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
      if (names.length !== 1) throw new BadRequest('There is either none or too many actions in the request body');
      const name = names[0]!;
      const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
      if (!action) throw new BadRequest(`There is no such action: ${excerpt(name)}`);
      const args = validate<Body | null>(action.schema, (body as Body)[name]) ?? {};

      if ('run' in action) {
        await action.run(deps, ctx, instanceId, args);
        return empty(202);
      }
      const accepted = await requestOperation(deps, {
        instanceId, op: action.op(args), ...requester(ctx), params: action.params?.(args), guard: action.guard?.(args),
      });
      if (action.withServer) {
        // Nova answers a rebuild with the basic server view and the new admin password.
        const options = serverViewOptions(accepted.instance, ctx);
        return json(action.status, {
          server: { ...basicServerView(accepted.instance, ctx.baseUrl, options), adminPass: randomBytes(9).toString('base64url') },
        });
      }
      return empty(action.status);
    },
  }];
}
