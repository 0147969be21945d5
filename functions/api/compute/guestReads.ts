import type { AdmissionDeps } from '../../core/compute/admission.js';
import { diagnostics, legacyDiagnostics } from '../../core/compute/diagnostics.js';
import { clearServerPassword, serverPassword } from '../../core/compute/serverPassword.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, json, pathParam } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';

// What the hypervisor and the guest say of a server: its diagnostics (administrators') and the
// password its guest posted (os-server-password).

/** The handlers of guestReadRoutes.ts's declarations, loaded on first use. */
export function guestReadHandlers(deps: AdmissionDeps): RouteHandler[] {
  const now = () => (deps.now ?? Date.now)();
  return [
    {
      // Nova finds the server before it checks its ADMIN rule (server_diagnostics.py): another
      // project's member gets 404, the owning project's 403. The route asks only what showing the
      // server asks; the domain checks os-server-diagnostics once it has the server.
      method: 'GET', path: '/v2.1/servers/{server_id}/diagnostics',
      handler: async (event, ctx) => {
        const id = pathParam(event, 'server_id');
        return json(200, isAtLeast(ctx.apiVersion, '2.48')
          ? await diagnostics(deps.table, ctx.caller, id, now())
          : await legacyDiagnostics(deps.table, ctx.caller, id));
      },
    },
    {
      method: 'GET', path: '/v2.1/servers/{server_id}/os-server-password',
      handler: async (event, ctx) => json(200, { password: await serverPassword(deps.table, ctx.caller, pathParam(event, 'server_id')) }),
    },
    {
      method: 'DELETE', path: '/v2.1/servers/{server_id}/os-server-password',
      handler: async (event, ctx) => {
        await clearServerPassword(deps.table, ctx.caller, pathParam(event, 'server_id'));
        return empty(204);
      },
    },
  ];
}
