import { json, PUBLIC, type ApiRoute } from '../http.js';
import { V2 } from './common.js';

// Neutron's version discovery, served without a token as Neutron serves it: the one API version
// (v2.0, CURRENT) at the endpoint's root, and the resources it has at /v2.0.

const COLLECTIONS = [
  ['network', 'networks'], ['subnet', 'subnets'], ['port', 'ports'], ['security_group', 'security-groups'],
  ['security_group_rule', 'security-group-rules'], ['extension', 'extensions'],
] as const;

export function networkVersionRoutes(): ApiRoute[] {
  const versions: ApiRoute['handler'] = async (_event, ctx) => json(200, {
    versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${ctx.baseUrl}${V2}/`, rel: 'self' }] }],
  });
  const resources: ApiRoute['handler'] = async (_event, ctx) => json(200, {
    resources: COLLECTIONS.map(([name, collection]) => ({
      name, collection: collection.replaceAll('-', '_'), links: [{ href: `${ctx.baseUrl}${V2}/${collection}`, rel: 'self' }],
    })),
  });
  const doc = (summary: string) => ({ summary, success: [200] });
  return [
    { method: 'GET', path: '/network', policy: PUBLIC, handler: versions, doc: doc('List Networking API versions (Neutron)') },
    { method: 'GET', path: '/network/', policy: PUBLIC, handler: versions, doc: doc('List Networking API versions (Neutron)') },
    { method: 'GET', path: V2, policy: PUBLIC, handler: resources, doc: doc('Show Networking API v2.0 and its resources (Neutron)') },
    { method: 'GET', path: `${V2}/`, policy: PUBLIC, handler: resources, doc: doc('Show Networking API v2.0 and its resources (Neutron)') },
  ];
}
