import { apiRoutes } from '../../functions/api/routes.js';
import { actionPolicies } from '../../functions/api/compute/actions.js';
import { createServer, requestOperation } from '../../functions/core/compute/admission.js';
import { OperationCatalogue, operationRow, type OperationName } from '../../functions/core/compute/catalogue.js';
import type { Caller } from '../../functions/core/compute/instance.js';
import { Forbidden } from '../../functions/core/shared/errors.js';
import { allows, POLICIES } from '../../functions/core/shared/policy.js';
import { ACTION_BODIES, OWN_ROUTE_KINDS, WEIGHTS } from '../chaos/kinds.js';
import { IDLE_MATRIX, OPS } from '../support/operationMatrix.js';

// A new catalogue operation touches about ten files (docs/adding-an-operation.md); the ones no
// type enforces are checked here, so that a row added to the catalogue alone fails: its row in
// the catalogue matrix, its kind in the chaos run, its policy, declared by a route and checked
// again by admission. (Its driver step in each driver and its request schema are enforced by
// their types: ComputeDriver has a method per OperationName, checkBody takes a registered name.)

const OPERATIONS = Object.keys(OperationCatalogue) as OperationName[];

/** Create admits no existing server: its admission is the new item's conditional put (test/integration/admission.test.ts). */
const NOT_ON_AN_EXISTING_SERVER: readonly OperationName[] = ['create'];

it.each(OPERATIONS.filter((op) => !NOT_ON_AN_EXISTING_SERVER.includes(op)))(
  '%s has its row in the catalogue matrix, idle and in flight (test/support/operationMatrix.ts)',
  (op) => {
    expect(Object.keys(IDLE_MATRIX)).toContain(op);
    expect(Object.keys(OPS)).toContain(op);
  },
);

it.each(OPERATIONS)('%s is a kind of request in the chaos run, with a way to send it (test/chaos/kinds.ts)', (op) => {
  expect(Object.keys(WEIGHTS)).toContain(op);
  expect(ACTION_BODIES[op as keyof typeof ACTION_BODIES] !== undefined || OWN_ROUTE_KINDS.includes(op as never)).toBe(true);
});

const routes = apiRoutes(undefined as never);
const reader: Caller = { userId: 'rita', projectId: 'demo', roles: ['reader'], isAdmin: false };

it.each(OPERATIONS)('%s has a policy that a route declares, and admission refuses a caller it does not allow', async (op) => {
  const { policy } = operationRow(op);
  expect(Object.keys(POLICIES)).toContain(policy);
  // Declared by a route, or by the server action route for the action that admits it (actions.ts).
  expect([...routes.map((r) => r.policy), ...actionPolicies()]).toContain(policy);
  // Every operation needs more than a reader; admission refuses before it reads or writes
  // anything (the deps are never touched), whichever way the request came in.
  expect(allows(reader, policy)).toBe(false);
  const admitted = op === 'create'
    ? createServer({} as never, { caller: reader, requestId: 'req-1', name: 'vm', flavorRef: '1', imageRef: 'image' })
    : requestOperation({} as never, { instanceId: 'server', op, caller: reader, requestId: 'req-1' });
  await expect(admitted).rejects.toBeInstanceOf(Forbidden);
});
