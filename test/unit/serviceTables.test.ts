import { serviceTables } from '../../functions/api/app.js';
import { json, PUBLIC, type ApiRoute } from '../../functions/api/http.js';

// The API builds Nova's route table as it loads and each other service's (Glance, Cinder,
// Neutron) with that service's first request, from a chunk of its own (functions/api/app.ts
// serviceTables): a load that failed must not leave the service failing for the life of the
// function, and a load that worked is not repeated.

const versions: ApiRoute = {
  method: 'GET', path: '/image', policy: PUBLIC, handler: async () => json(300, { versions: [] }),
  doc: { summary: 'List Image API versions (Glance)', success: [300] },
};
const request = { httpMethod: 'GET', path: '/image', pathParameters: null, queryStringParameters: null, headers: {} } as never;
const notThisService = async (): Promise<ApiRoute[]> => { throw new Error('a request to another service loaded this one'); };

it('loads a service\'s routes with its first request, once, and again after a load that failed', async () => {
  let loads = 0;
  const image = async () => {
    loads++;
    if (loads === 1) throw new Error('the chunk failed to load');
    return [versions];
  };
  const { router } = serviceTables(undefined as never, { image, volume: notThisService, network: notThisService });
  expect(loads).toBe(0);
  await expect(router(request, {} as never)).rejects.toThrow('the chunk failed to load');
  await expect(router(request, {} as never)).resolves.toMatchObject({ statusCode: 300 });
  await expect(router(request, {} as never)).resolves.toMatchObject({ statusCode: 300 });
  expect(loads).toBe(2);
});

it('answers Nova\'s routes without loading any other service', async () => {
  const { router } = serviceTables(undefined as never, { image: notThisService, volume: notThisService, network: notThisService });
  const discovery = await router({ ...(request as object), path: '/v2.1' } as never, { } as never);
  expect(discovery.statusCode).toBe(200);
});
