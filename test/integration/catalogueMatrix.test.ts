import { Ports, Volumes } from '../../functions/core/shared/attachables.js';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { seedHosts, setHostService } from '../../functions/core/placement/hosts.js';
import type { Instance } from '../../functions/core/compute/instance.js';
import { seedAttachment, seedInstance, startApiOnly, uuid, type ApiOnly } from '../support/emulators.js';
import { BUSY_ADMITS, IDLE_MATRIX, OPS, TASK_STATES, VM_STATES, type Vm } from '../support/operationMatrix.js';

// Every guarded operation, over HTTP, from every vm_state, idle and with every task_state in
// flight: admitted or refused exactly as docs/operations.md says, which follows Nova's API. The
// expected matrix is written out by hand from docs/operations.md and nova/compute/api.py's
// @check_instance_state decorators (nova/compute/vm_states.py, task_states.py), in
// test/support/operationMatrix.ts; it deliberately does not read OperationCatalogue, so a wrong
// row in the code cannot make its own test pass.

type Expected =
  | { readonly kind: 'admitted' }
  | { readonly kind: 'refused'; readonly attr: 'task_state' | 'vm_state'; readonly value: string }
  | { readonly kind: 'missing' }
  /** A delete while deleting: Nova's 204, and taskgate takes no second claim (the item is untouched). */
  | { readonly kind: 'repeated' };

/**
 * The rules of docs/operations.md (Nova's): a deleted server is not found; then vm_state is
 * checked, then task_state (check_instance_state's order); an operation admits the task_states
 * in flight that BUSY_ADMITS lists, and otherwise only an idle server. A delete while deleting
 * is accepted again (Nova's 204) without a second claim.
 */
function expected(op: string, vm: Vm, taskState: string | undefined): Expected {
  const cell = IDLE_MATRIX[op]!.split(/\s+/)[VM_STATES.indexOf(vm)];
  if (cell === '-') return { kind: 'missing' };
  if (cell !== 'Y') return { kind: 'refused', attr: 'vm_state', value: vm };
  if (op === 'delete' && taskState === 'deleting') return { kind: 'repeated' };
  if (taskState && !(BUSY_ADMITS[op] ?? []).includes(taskState)) return { kind: 'refused', attr: 'task_state', value: taskState };
  return { kind: 'admitted' };
}

let api: ApiOnly;
/** Every matrix server is on this host, whose compute service is forced down: evacuate's condition holds, and its cells are its states'. */
const DOWN_HOST = 'matrix-down';
beforeAll(async () => {
  api = await startApiOnly();
  await seedHosts(api.table, [{ name: DOWN_HOST, zone: 'nova', vcpus: 64, ram: 65536, disk: 1000 }]);
  await setHostService(api.table, DOWN_HOST, { forcedDown: true });
});
afterAll(() => api.stop());

const readItem = async (id: string) => (await readInstance(api.table, id))!;

interface Cell { id: string; op: string; vm: Vm; taskState?: string; status: number; body: unknown; claimed?: string; unchanged?: boolean }

/**
 * One server per (vm_state, task_state): every operation is tried on it in turn. A refusal must
 * leave it exactly as it was; an admission is checked (the claimed task_state) and the server
 * seeded afresh for the next operation.
 */
async function runColumn(vm: Vm, taskState: string | undefined): Promise<{ cells: Cell[]; untouched: boolean }> {
  const id = uuid();
  // The server's attachments live on its item: a fresh seed keeps the ones seeded first.
  let attachments: Pick<Instance, 'volumes' | 'ports'> = {};
  const seed = async () => {
    await seedInstance(api.table, {
      id, vmState: vm, host: DOWN_HOST, node: DOWN_HOST, ...(taskState ? { taskState: taskState as Instance['taskState'] } : {}),
      ...(vm === 'deleted' ? { deleted: true } : {}),
      ...(vm === 'resized' ? { oldFlavorId: '2', preResizeVmState: 'active' as const } : {}),
      ...attachments,
    });
    return readItem(id);
  };
  await seed();
  const held = {
    volumeId: await seedAttachment(api.table, Volumes, id),
    portId: await seedAttachment(api.table, Ports, id),
  };
  const seeded = await readItem(id);
  attachments = { volumes: seeded.volumes, ports: seeded.ports };
  let before = await seed();
  const cells: Cell[] = [];
  let untouched = true;
  // Refusals since the last seed: the item must still be as seeded. It is read once for a run of
  // them (before a request that may change it, and at the end), not after each: a refusal that
  // wrote anything would still show, and the matrix makes half as many requests.
  let refusedSinceSeed = false;
  const checkUntouched = async () => {
    if (refusedSinceSeed) untouched &&= JSON.stringify(await readItem(id)) === JSON.stringify(before);
    refusedSinceSeed = false;
  };
  for (const op of Object.keys(OPS)) {
    if (['admitted', 'repeated'].includes(expected(op, vm, taskState).kind)) await checkUntouched();
    const res = await OPS[op]!.send(api, id, held);
    const cell: Cell = { id, op, vm, taskState, status: res.status, body: res.body };
    if (res.status >= 200 && res.status < 300) {
      const after = await readItem(id);
      cell.claimed = after.taskState;
      cell.unchanged = JSON.stringify(after) === JSON.stringify(before);
      before = await seed();
      refusedSinceSeed = false;
    } else {
      refusedSinceSeed = true;
    }
    cells.push(cell);
  }
  await checkUntouched();
  return { cells, untouched };
}

function mismatch(cell: Cell): string | undefined {
  const want = expected(cell.op, cell.vm, cell.taskState);
  const where = `${cell.op} from ${cell.vm}/${cell.taskState ?? 'idle'}`;
  const op = OPS[cell.op]!;
  if (want.kind === 'missing') {
    return cell.status === 404 ? undefined : `${where}: want 404, got ${cell.status}`;
  }
  if (want.kind === 'repeated') {
    return cell.status === 204 && cell.unchanged ? undefined : `${where}: want 204 and no second claim, got ${cell.status} (unchanged: ${cell.unchanged})`;
  }
  if (want.kind === 'admitted') {
    if (cell.status !== op.accepted) return `${where}: want ${op.accepted}, got ${cell.status} ${JSON.stringify(cell.body)}`;
    if (cell.claimed !== op.claims) return `${where}: want task_state ${op.claims}, got ${cell.claimed}`;
    return undefined;
  }
  const message = (cell.body as { conflictingRequest?: { message?: string } })?.conflictingRequest?.message ?? '';
  const wantText = `Cannot '${op.verb}' instance ${cell.id} while it is in ${want.attr} ${want.value}`;
  if (cell.status !== 409 || message !== wantText) return `${where}: want 409 "${wantText}", got ${cell.status} "${message}"`;
  return undefined;
}

describe('the operation catalogue, over HTTP', () => {
  const columns: [Vm, string | undefined][] = VM_STATES.flatMap((vm) =>
    [undefined, ...TASK_STATES].map((ts) => [vm, ts] as [Vm, string | undefined]));

  it(`admits or refuses ${Object.keys(OPS).length} operations x ${VM_STATES.length} vm_states x ${TASK_STATES.length + 1} task_states exactly as docs/operations.md (Nova's API) says`, async () => {
    const results: { cells: Cell[]; untouched: boolean }[] = [];
    // Servers are independent: run several columns at once, each column's operations in order.
    const pending = [...columns];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let next = pending.shift(); next; next = pending.shift()) results.push(await runColumn(...next));
    }));

    const cells = results.flatMap((r) => r.cells);
    expect(cells).toHaveLength(Object.keys(OPS).length * columns.length);
    expect(cells.map(mismatch).filter(Boolean)).toEqual([]);
    expect(results.filter((r) => !r.untouched)).toHaveLength(0);

    // The matrix is not vacuous: it saw every kind of answer, in the numbers docs/operations.md implies.
    const count = (status: number) => cells.filter((c) => c.status === status).length;
    const allowedVms = (op: string) => IDLE_MATRIX[op]!.split('').filter((c) => c === 'Y').length;
    const idleAdmissions = Object.keys(IDLE_MATRIX).reduce((n, op) => n + allowedVms(op), 0);
    const busyAdmissions = Object.entries(BUSY_ADMITS).reduce((n, [op, states]) => n + allowedVms(op) * states.length, 0);
    expect(busyAdmissions).toBe(5 * 6 + 11 * 33); // hard reboot: 5 vm_states x 6; delete: 11 x 33
    const repeatedDeletes = allowedVms('delete'); // a delete while deleting, in every vm_state it is allowed
    expect(cells.filter((c) => c.claimed !== undefined && !c.unchanged)).toHaveLength(idleAdmissions + busyAdmissions);
    expect(cells.filter((c) => c.op === 'delete' && c.taskState === 'deleting' && c.status === 204 && c.unchanged))
      .toHaveLength(repeatedDeletes);
    expect(count(404)).toBe(Object.keys(OPS).length * (TASK_STATES.length + 1));
    expect(count(409)).toBe(cells.length - idleAdmissions - busyAdmissions - repeatedDeletes - count(404));
  }, 600_000); // 6,000 requests over HTTP: a ceiling for a loaded machine, not a speed claim
});
