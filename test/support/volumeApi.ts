import type { Server } from 'node:http';
import { createApi } from '../../functions/api/app.js';
import type { OperationName } from '../../functions/core/compute/catalogue.js';
import type { ComputeDriver, OperationContext } from '../../functions/core/compute/driver.js';
import type { IdentityProvider } from '../../functions/core/identity/identity.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import type { OperationMessage } from '../../functions/core/compute/queue.js';
import { runOperation, type WorkOutcome } from '../../functions/core/compute/worker.js';
import type { Volume } from '../../functions/core/volumes/volume.js';
import { serveApi, type ProxyHandler } from '../../local/apiGateway.js';
import { LOCAL_PUBLIC_URL } from '../../local/runtime.js';
import { CapturingQueue, startBackends, type TestBackends } from './emulators.js';
import { Nova } from './nova.js';
import { Cinder } from './volumes.js';

// The API over real HTTP on the emulators, with no worker and a volume backend held by a gate: a
// test decides when each queued operation runs (and holds its driver at a step), and when an
// extend, which holds its volume `extending` meanwhile, may finish.

/** `user:project` tokens; a user named `reader...` holds only the reader role, `admin` is the administrator. */
const identity: IdentityProvider = {
  mode: 'noauth',
  async authenticate(token) {
    const [userId = '', projectId = ''] = token.split(':');
    const roles = userId === 'admin' ? ['admin', 'member', 'reader'] : userId.startsWith('reader') ? ['reader'] : ['member', 'reader'];
    return { userId, projectId, roles };
  },
};

/** A gate: `wait()` blocks until `open()`; `reached` resolves when something first waits. */
export function gate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  const arrived = new Promise<void>((resolve) => { reached = resolve; });
  return { open, reached: arrived, wait: async () => { reached(); await opened; } };
}

export interface VolumeApi extends TestBackends {
  readonly root: string;
  readonly queue: CapturingQueue;
  nova(token?: string): Nova;
  cinder(token?: string): Cinder;
  /** Holds every extend's backend step until the returned gate opens. */
  holdExtends(): ReturnType<typeof gate>;
  /** Runs one queued operation, its driver held at its first step until `held.open()` when given. */
  run(message: OperationMessage, held?: ReturnType<typeof gate>): Promise<WorkOutcome>;
}

export async function startVolumeApi(): Promise<VolumeApi> {
  const backends = await startBackends();
  const queue = new CapturingQueue();
  let extendGate: ReturnType<typeof gate> | undefined;
  const api = createApi({
    table: backends.table, queue, claimLeaseMs: 15 * 60_000, reservationLeaseMs: 60_000,
    volumeBackend: { extend: async (_v: Volume) => { await extendGate?.wait(); } },
  }, { links: { publicUrl: LOCAL_PUBLIC_URL }, identity });
  const { server, url } = await serveApi(api as unknown as ProxyHandler, 0);
  const plain = new SimulatedDriver(backends.table, { stepMs: 0 });
  const heldDriver = (held: ReturnType<typeof gate>): ComputeDriver => new Proxy(plain, {
    get: (target, op: string) => (ctx: OperationContext) => target[op as OperationName]({
      ...ctx, checkpoint: async (taskState) => { await held.wait(); await ctx.checkpoint(taskState); },
    }),
  });
  return {
    ...backends, root: url, queue,
    nova: (token = 'alice:demo') => new Nova(`${url}/v2.1`, token),
    cinder: (token = 'alice:demo') => new Cinder(url, token),
    holdExtends: () => (extendGate = gate()),
    run: (message, held) => runOperation({
      table: backends.table, driver: held ? heldDriver(held) : plain, runLeaseMs: 60_000, claimLeaseMs: 600_000,
    }, message),
    async stop() {
      await new Promise<void>((resolve) => (server as Server).close(() => resolve()));
      (server as Server).closeAllConnections?.();
      await backends.stop();
    },
  };
}
