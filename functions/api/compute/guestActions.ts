import { randomBytes } from 'node:crypto';
import { imageToBoot } from '../../core/compute/bootImage.js';
import { consoleOutput } from '../../core/compute/consoleLog.js';
import { readInstance } from '../../core/compute/readInstance.js';
import { isVisibleTo } from '../../core/compute/instance.js';
import { BadRequest, NotFound } from '../../core/shared/errors.js';
import { json } from '../http.js';
import type { AdmissionDeps } from '../../core/compute/admission.js';
import type { ApiContext } from '../http.js';
import type { Body, DirectAction, QueuedAction } from './actions.js';

// Rescue and unrescue (rescue.py), trigger_crash_dump (servers.py, 2.17), changePassword
// (admin_password.py) and os-getConsoleOutput (console_output.py): the guest's side of a server.

/**
 * A rescue image must be one the caller may boot (Nova: UnsupportedRescueImage, 400). The server
 * is read first only when the image is refused: an unknown server is 404 before that.
 */
async function rescueParams(b: Body, deps: AdmissionDeps, ctx: ApiContext, instanceId: string) {
  const ref = b.rescue_image_ref;
  if (typeof ref !== 'string') return {};
  if (!await imageToBoot(deps.table, ctx.caller, ref)) {
    if (!isVisibleTo(await readInstance(deps.table, instanceId), ctx.caller)) throw new NotFound(`Instance ${instanceId} could not be found.`);
    throw new BadRequest(`Requested rescue image '${ref}' is not supported`);
  }
  return { rescueImageRef: ref.toLowerCase() };
}

/** Nova's utils.generate_password: a random password when none is asked for. */
const newPassword = () => randomBytes(9).toString('base64url');

export const GUEST_ACTIONS: Record<string, QueuedAction | DirectAction> = {
  // Nova answers a rescue 200 with the rescue password ([api]enable_instance_password): the one
  // asked for, or a new one. It is the guest's: taskgate keeps no password.
  rescue: {
    schema: 'rescue', op: () => 'rescue', status: 202, params: rescueParams,
    answer: async (_deps, _ctx, _accepted, b) => json(200, { adminPass: typeof b.adminPass === 'string' ? b.adminPass : newPassword() }),
  },
  unrescue: { schema: 'unvalidated', op: () => 'unrescue', status: 202 },
  trigger_crash_dump: { schema: 'triggerCrashDump', since: '2.17', op: () => 'trigger_crash_dump', status: 202 },
  // The new password goes to the guest agent and nowhere else: it is never on the claim, the
  // queue's message or the table (the simulated guest takes any).
  changePassword: { schema: 'changePassword', op: () => 'change_password', status: 202 },
  'os-getConsoleOutput': {
    schema: 'consoleOutput',
    run: async (deps, ctx, id, b) => {
      const length = b.length === undefined || b.length === null ? undefined : Number(b.length);
      return json(200, { output: await consoleOutput(deps.table, ctx.caller, id, length, deps.consoleReader) });
    },
  },
};
