import { json, PUBLIC, type ApiRoute } from '../http.js';

// Glance's version discovery (glance/api/versions.py), under the image endpoint `<base>/image`:
// the v2 API and its minor versions, each linking to `<base>/image/v2/`. No token needed. The
// endpoint's root answers 300 Multiple Choices, `/versions` 200, as Glance's do.
// taskgate serves the images API of v2 (images, their tags, schemas); not what later minors add
// beside it (image import, members, tasks, stores, cache), which clients find missing (404).

const MINORS = ['2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];

function versions(base: string) {
  const href = `${base}/image/v2/`;
  return {
    versions: MINORS.map((minor, i) => ({
      id: `v${minor}`, status: i === 0 ? 'CURRENT' : 'SUPPORTED', links: [{ rel: 'self', href }],
    })),
  };
}

export function imageVersionRoutes(): ApiRoute[] {
  const choices: ApiRoute['handler'] = async (_event, ctx) => json(300, versions(ctx.baseUrl));
  return [
    { method: 'GET', path: '/image', policy: PUBLIC, handler: choices, doc: { summary: 'List Image API versions (Glance)', success: [300] } },
    { method: 'GET', path: '/image/', policy: PUBLIC, handler: choices, doc: { summary: 'List Image API versions (Glance)', success: [300] } },
    {
      method: 'GET', path: '/image/versions', policy: PUBLIC, handler: async (_event, ctx) => json(200, versions(ctx.baseUrl)),
      doc: { summary: 'List Image API versions (Glance)', success: [200] },
    },
  ];
}
