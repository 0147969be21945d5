import { SQSClient } from '@aws-sdk/client-sqs';
import { createApi, routeTable } from '../../functions/api/app.js';
import { apiRoutes } from '../../functions/api/routes.js';
import { PUBLIC, type ApiRoute } from '../../functions/api/http.js';
import { isPublicPath } from '../../functions/authorizer/gatewayResponses.js';
import { toAuthorizerContext } from '../../functions/core/identity/caller.js';
import { POLICIES, refusal, type PolicyName } from '../../functions/core/shared/policy.js';
import { serviceFault } from '../../functions/api/middleware/novaErrors.js';
import { serviceOf } from '../../functions/api/services.js';
import { sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';

// Policy fails closed: every route declares its Nova policy where it is defined, a route without
// one does not start, and the policy checked for a request is the one its route declares.

const deps = {
  // No backend: the policy step refuses before anything is read.
  table: { db: { send: async () => ({ Items: [] }) } as never, name: 'unused' },
  queue: sqsOperationQueue(new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }), 'unused'),
  claimLeaseMs: 1000,
};
const routes = apiRoutes(deps);
const name = (r: Pick<ApiRoute, 'method' | 'path'>) => `${r.method} ${r.path}`;
const someRoute = routes.find((r) => r.path === '/v2.1/servers/{server_id}' && r.method === 'GET')!;

it('every registered route declares a policy of functions/core/shared/policy.ts, or PUBLIC for version discovery alone', () => {
  expect(routes.length).toBeGreaterThan(40);
  for (const route of routes) {
    const declared = (route as { policy?: unknown }).policy;
    const ok = declared === PUBLIC ? isPublicPath(route.path) : typeof declared === 'string' && Object.hasOwn(POLICIES, declared) && !isPublicPath(route.path);
    expect([name(route), declared, ok]).toEqual([name(route), declared, true]);
  }
  // Each service's version discovery: Nova's, Glance's, ...
  expect(routes.filter((r) => r.policy === PUBLIC).map(name).sort()).toEqual(expect.arrayContaining([
    'GET /', 'GET /image', 'GET /image/versions', 'GET /v2', 'GET /v2.1', 'GET /v2.1/', 'GET /v2/',
  ]));
});

describe('registering a route', () => {
  const { policy: _dropped, ...withoutPolicy } = someRoute;
  const cases: Record<string, object> = {
    'without a policy': { ...withoutPolicy, path: '/v2.1/os-hypervisors' },
    'with policy undefined': { ...someRoute, path: '/v2.1/os-hypervisors', policy: undefined },
    'with a policy taskgate does not know': { ...someRoute, path: '/v2.1/os-hypervisors', policy: 'os_compute_api:os-hypervisors:unheard-of' },
    'PUBLIC outside version discovery': { ...someRoute, path: '/v2.1/os-hypervisors', policy: PUBLIC },
    'version discovery with a policy': { ...someRoute, path: '/v2.1/', policy: 'os_compute_api:servers:show' },
  };
  for (const [what, route] of Object.entries(cases)) {
    it(`${what} throws: the API does not start`, () => {
      expect(() => routeTable([...routes, route as ApiRoute])).toThrow(/GET \/v2\.1\/(os-hypervisors|): .*(no policy|not a policy|PUBLIC)/);
    });
  }

  it('with its policy works', () => {
    expect(() => routeTable([...routes, { ...someRoute, path: '/v2.1/os-hypervisors' }])).not.toThrow();
  });
});

describe('the policy checked is the route\'s declared one', () => {
  const api = createApi(deps);
  const call = (method: string, path: string, roles: string[]) => {
    // Asking for JSON: Glance's errors follow the Accept header.
    const event = proxyEvent({ method, url: path, headers: { accept: 'application/json' }, socket: { remoteAddress: '127.0.0.1' } } as never, Buffer.from(''));
    (event.requestContext as { authorizer: unknown }).authorizer = toAuthorizerContext({ userId: 'u', projectId: 'p', roles });
    return api(event as never, lambdaContext('api', 1000) as never);
  };
  const concrete = (path: string) => path.replace(/\{\w+\}/g, () => crypto.randomUUID());

  it('a caller with no role is refused every route whose policy is not open to anyone, naming that policy', async () => {
    const guarded = routes.filter((r) => r.policy !== PUBLIC && POLICIES[r.policy] !== 'any');
    expect(guarded.length).toBeGreaterThan(30);
    for (const route of guarded) {
      const res = await call(route.method, concrete(route.path), []);
      // In the route's service's body and words (Glance's for its rules, Nova's otherwise).
      const refused = JSON.parse(serviceFault(serviceOf(route.path), 'forbidden', 403, refusal(route.policy as PolicyName)).body);
      expect([name(route), res.statusCode, JSON.parse(res.body)]).toEqual([name(route), 403, refused]);
    }
  });

  it('a member is refused every admin route, naming its policy, and the admin\'s listing of every project', async () => {
    const adminOnly = routes.filter((r) => r.policy !== PUBLIC && POLICIES[r.policy] === 'admin');
    expect(adminOnly.map(name)).toEqual(expect.arrayContaining(['POST /v2.1/flavors', 'GET /v2.1/os-availability-zone/detail']));
    for (const route of adminOnly) {
      const res = await call(route.method, concrete(route.path), ['member', 'reader']);
      expect([name(route), res.statusCode, JSON.parse(res.body).forbidden?.message])
        .toEqual([name(route), 403, `Policy doesn't allow ${route.policy} to be performed.`]);
    }
    for (const [path, policy] of [
      ['/v2.1/servers?all_tenants=1', 'os_compute_api:servers:index:get_all_tenants'],
      ['/v2.1/servers/detail?tenant_id=other', 'os_compute_api:servers:detail:get_all_tenants'],
    ]) {
      const res = await call('GET', path!, ['member', 'reader']);
      expect([path, res.statusCode, JSON.parse(res.body).forbidden?.message]).toEqual([path, 403, `Policy doesn't allow ${policy} to be performed.`]);
    }
  });

  it('version discovery needs no token and no role', async () => {
    for (const route of routes.filter((r) => r.policy === PUBLIC)) {
      const event = proxyEvent({ method: 'GET', url: route.path, headers: {}, socket: { remoteAddress: '127.0.0.1' } } as never, Buffer.from(''));
      // Glance's (and Cinder's) endpoint root answers 300 Multiple Choices.
      const { statusCode } = await api(event as never, lambdaContext('api', 1000) as never);
      expect([route.path, [200, 300].includes(statusCode)]).toEqual([route.path, true]);
    }
  });
});
