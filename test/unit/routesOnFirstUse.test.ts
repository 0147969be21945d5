import { jest } from '@jest/globals';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createApi } from '../../functions/api/app.js';
import { computeRoutesOnFirstUse } from '../../functions/api/computeRoutes.js';
import { json, type ApiRoute } from '../../functions/api/http.js';
import { joinHandlers, routesOnFirstUse, type RouteDeclaration, type RouteHandler } from '../../functions/api/routesOnFirstUse.js';
import { toAuthorizerContext } from '../../functions/core/identity/caller.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';

// Nova's rarely used routes are declared in the route table the API builds as it loads, and
// their handlers' modules load with the first request to one of them (functions/api/
// routesOnFirstUse.ts, computeRoutes.ts): a declaration must have its handler, the policy must
// be checked before any of that code loads, and a load that failed must not stay failed.

const declared = (path: string): RouteDeclaration => ({ method: 'GET', path, policy: 'os_compute_api:os-hypervisors:list', doc: { summary: path, success: [200] } });
const handled = (path: string, body: unknown = path): RouteHandler => ({ method: 'GET', path, handler: async () => json(200, body) });
const call = (route: ApiRoute) => route.handler({} as never, {} as never);

describe('each group of Nova\'s rare routes', () => {
  for (const [group, { declared: routes, handlers }] of Object.entries(computeRoutesOnFirstUse)) {
    it(`${group}: its module has one handler for every declaration and none other`, async () => {
      const joined = joinHandlers(routes, await handlers(undefined as never));
      expect([...joined.keys()].sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    });
  }
});

describe('joining declarations to their handlers', () => {
  it('refuses a declaration whose module has no handler for it, naming the route', () => {
    expect(() => joinHandlers([declared('/a'), declared('/b')], [handled('/a')])).toThrow('GET /b: declared, but its module has no handler for it');
  });
  it('refuses a handler without a declaration (it would run without a policy)', () => {
    expect(() => joinHandlers([declared('/a')], [handled('/a'), handled('/c')])).toThrow('GET /c: a handler without a declaration');
  });
  it('refuses two handlers for one route', () => {
    expect(() => joinHandlers([declared('/a')], [handled('/a'), handled('/a')])).toThrow('GET /a: two handlers');
  });
});

describe('a group\'s routes', () => {
  it('load its module with the first call to any of them, once, each running its own handler', async () => {
    let loads = 0;
    const routes = routesOnFirstUse({ declared: [declared('/a'), declared('/b')], handlers: async () => { loads++; return [handled('/a', 'A'), handled('/b', 'B')]; } }, {});
    expect(routes.map((r) => [r.path, r.policy])).toEqual([['/a', 'os_compute_api:os-hypervisors:list'], ['/b', 'os_compute_api:os-hypervisors:list']]);
    expect(loads).toBe(0);
    await expect(call(routes[1]!)).resolves.toMatchObject({ body: '"B"' });
    await expect(call(routes[0]!)).resolves.toMatchObject({ body: '"A"' });
    expect(loads).toBe(1);
  });

  it('load it again after a load that failed', async () => {
    let loads = 0;
    const routes = routesOnFirstUse({
      declared: [declared('/a')],
      handlers: async () => {
        loads++;
        if (loads === 1) throw new Error('the chunk failed to load');
        return [handled('/a')];
      },
    }, {});
    await expect(call(routes[0]!)).rejects.toThrow('the chunk failed to load');
    await expect(call(routes[0]!)).resolves.toMatchObject({ statusCode: 200 });
    expect(loads).toBe(2);
  });
});

describe('the API', () => {
  const deps = {
    // No backend beyond an empty table: what is checked here happens before anything is read.
    table: { db: { send: async () => ({ Items: [] }) } as never, name: 'unused' },
    queue: sqsOperationQueue(new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }), 'unused'),
    claimLeaseMs: 1000,
  };
  const request = (api: ReturnType<typeof createApi>, method: string, path: string, roles: string[]) => {
    const event = proxyEvent({ method, url: path, headers: { accept: 'application/json' }, socket: { remoteAddress: '127.0.0.1' } } as never, Buffer.from(''));
    (event.requestContext as { authorizer: unknown }).authorizer = toAuthorizerContext({ userId: 'u', projectId: 'p', roles });
    return api(event as never, lambdaContext('api', 1000) as never);
  };
  afterEach(() => jest.restoreAllMocks());

  it('checks a rare route\'s policy and its path parameters before its handlers\' module loads, and loads it for the first request that passes', async () => {
    const hypervisors = jest.spyOn(computeRoutesOnFirstUse.hypervisors, 'handlers');
    const aggregates = jest.spyOn(computeRoutesOnFirstUse.aggregates, 'handlers');
    const api = createApi(deps);
    const member = await request(api, 'GET', '/v2.1/os-hypervisors', ['member', 'reader']);
    expect([member.statusCode, JSON.parse(member.body).forbidden?.message]).toEqual([403, 'Policy doesn\'t allow os_compute_api:os-hypervisors:list to be performed.']);
    // An aggregate id is an integer: Nova's 404 for another, from the route table's own check.
    const badId = await request(api, 'GET', '/v2.1/os-aggregates/not-a-number', ['admin']);
    expect(badId.statusCode).toBe(404);
    expect([hypervisors.mock.calls.length, aggregates.mock.calls.length]).toEqual([0, 0]);

    const admin = await request(api, 'GET', '/v2.1/os-hypervisors', ['admin']);
    expect([admin.statusCode, JSON.parse(admin.body)]).toEqual([200, { hypervisors: [] }]);
    await request(api, 'GET', '/v2.1/os-hypervisors/detail', ['admin']);
    expect([hypervisors.mock.calls.length, aggregates.mock.calls.length]).toEqual([1, 0]);
  });
});
