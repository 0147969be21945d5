import { MAX_VERSION, MIN_VERSION, versionString } from '../apiVersion.js';
import { json, PUBLIC, type ApiRoute } from '../http.js';

// Version discovery, as Nova answers it (nova/api/openstack/compute/versions.py): the one API
// taskgate serves, v2.1, with the microversion range clients negotiate from. No token needed.

/** Nova's fixed release date of the v2.1 API; clients read it but do not compare it. */
const V21_UPDATED = '2013-07-23T11:33:21Z';

function v21(base: string) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: versionString(MAX_VERSION),
    min_version: versionString(MIN_VERSION),
    updated: V21_UPDATED,
    links: [{ rel: 'self', href: `${base}/v2.1/` }],
  };
}

function v20(base: string) {
  return {
    id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/v2/` }],
  };
}

export function versionRoutes(): ApiRoute[] {
  const one: ApiRoute['handler'] = async (_event, ctx) => {
    const version = v21(ctx.baseUrl);
    return json(200, {
      version: {
        ...version,
        links: [...version.links, { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
      },
    });
  };
  const legacy: ApiRoute['handler'] = async (_event, ctx) => {
    const version = v20(ctx.baseUrl);
    return json(200, {
      version: {
        ...version,
        links: [...version.links, { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2' }],
      },
    });
  };
  return [
    // Nova lists v2.0 (its legacy, microversion-less API) first, then v2.1. taskgate serves v2.1;
    // v2.0 is listed as Nova lists it, SUPPORTED, pointing at /v2/ (which taskgate does not route).
    {
      method: 'GET', path: '/', policy: PUBLIC, handler: async (_event, ctx) => json(200, { versions: [v20(ctx.baseUrl), v21(ctx.baseUrl)] }),
      doc: { summary: 'List API versions', success: [200] },
    },
    // The v2.0 document Nova's version list links to (taskgate serves no /v2/ resources).
    { method: 'GET', path: '/v2', policy: PUBLIC, handler: legacy, doc: { summary: 'Show API version v2.0', success: [200] } },
    { method: 'GET', path: '/v2/', policy: PUBLIC, handler: legacy, doc: { summary: 'Show API version v2.0', success: [200] } },
    { method: 'GET', path: '/v2.1', policy: PUBLIC, handler: one, doc: { summary: 'Show API version v2.1', success: [200] } },
    { method: 'GET', path: '/v2.1/', policy: PUBLIC, handler: one, doc: { summary: 'Show API version v2.1', success: [200] } },
  ];
}
