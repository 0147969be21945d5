import { randomBytes } from 'node:crypto';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import { onDownHost } from '../../core/compute/guards.js';
import { checkMove, type MoveKind } from '../../core/compute/moveChecks.js';
import { BadRequest } from '../../core/shared/errors.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, json, type ApiContext } from '../http.js';
import { isTrue } from '../serverSchemas.js';
import type { Body, QueuedAction } from './actions.js';

// migrate (2.56: `host`), os-migrateLive and evacuate (migrate_server.py, evacuate.py): an
// administrator's moves of a server to another host, placed by the scheduler in the worker
// (functions/core/compute/placing.ts). What Nova's API checks first is checked here through the
// domain (moveChecks.ts); evacuate's condition on its source host rides on the claim's write.

/** `force` needs a host (Nova: 400). */
function forced(b: Body, host: string | undefined): boolean {
  const force = b.force === undefined ? false : isTrue(b.force);
  if (force && !host) throw new BadRequest('Can\'t force to a non-provided destination');
  return force;
}

const hostOf = (b: Body) => (typeof b.host === 'string' ? b.host : undefined);

async function moveParams(op: MoveKind, b: Body, deps: AdmissionDeps, ctx: ApiContext, instanceId: string) {
  const host = hostOf(b);
  const force = forced(b, host);
  if (op !== 'evacuate') await checkMove(deps.table, ctx.caller, instanceId, op, host);
  return {
    ...(host ? { host } : {}), ...(force ? { force } : {}),
    ...(op === 'live_migrate' ? { blockMigration: b.block_migration === 'auto' ? 'auto' : isTrue(b.block_migration ?? false) } : {}),
  };
}

/** A new password for the rebuilt server before 2.14 (Nova answers it; the guest's, kept nowhere here). */
const newPassword = () => randomBytes(9).toString('base64url');

export const MOVE_ACTIONS: Record<string, QueuedAction> = {
  migrate: {
    schema: 'migrate', op: () => 'migrate', status: 202,
    // Before 2.56 Nova reads no body: no host can be asked for.
    params: (b, deps, ctx, id) => moveParams('migrate', isAtLeast(ctx.apiVersion, '2.56') ? b ?? {} : {}, deps, ctx, id),
  },
  'os-migrateLive': {
    schema: 'migrateLive', op: () => 'live_migrate', status: 202,
    params: (b, deps, ctx, id) => moveParams('live_migrate', b, deps, ctx, id),
  },
  // Nova answers 200: before 2.14 with the new admin password ([api]enable_instance_password).
  evacuate: {
    schema: 'evacuate', op: () => 'evacuate', status: 202,
    params: (b, deps, ctx, id) => moveParams('evacuate', b, deps, ctx, id),
    guard: async (deps, b, ctx, id) => {
      const { instance, sourceDown } = await checkMove(deps.table, ctx.caller, id, 'evacuate', hostOf(b));
      return onDownHost(instance.host, sourceDown);
    },
    answer: async (_deps, ctx, _accepted, b) => (isAtLeast(ctx.apiVersion, '2.14')
      ? empty(200) : json(200, { adminPass: typeof b.adminPass === 'string' ? b.adminPass : newPassword() })),
  },
};
