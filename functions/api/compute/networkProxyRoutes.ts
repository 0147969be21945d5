import type { RouteDeclaration } from '../routesOnFirstUse.js';

// Nova's proxies to the network service (os-networks, os-security-groups; to 2.35): declared here,
// for the route table the API builds as it loads; their handlers (networkProxies.ts) load with the
// first request to one of them (routesOnFirstUse.ts).

export const networkProxyRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: '/v2.1/os-networks', policy: 'os_compute_api:os-networks:list',
    doc: { summary: 'List networks (Nova\'s proxy to the network service; 404 from 2.36)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/os-networks/{network_id}', policy: 'os_compute_api:os-networks:show',
    doc: { summary: 'Show a network (Nova\'s proxy; 404 from 2.36)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/os-security-groups', policy: 'os_compute_api:os-security-groups:get',
    doc: { summary: 'List security groups (Nova\'s proxy; 404 from 2.36)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/os-security-groups/{security_group_id}', policy: 'os_compute_api:os-security-groups:show',
    doc: { summary: 'Show a security group (Nova\'s proxy; 404 from 2.36)', success: [200] },
  },
  {
    method: 'POST', path: '/v2.1/os-security-groups', policy: 'os_compute_api:os-security-groups:create',
    body: {
      type: 'object', required: ['security_group'],
      properties: {
        security_group: {
          type: 'object', required: ['name', 'description'],
          properties: { name: { type: 'string', maxLength: 255 }, description: { type: 'string', maxLength: 255 } },
        },
      },
    },
    doc: { summary: 'Create a security group (Nova\'s proxy; 404 from 2.36)', success: [200] },
  },
  {
    method: 'DELETE', path: '/v2.1/os-security-groups/{security_group_id}', policy: 'os_compute_api:os-security-groups:delete',
    doc: { summary: 'Delete a security group (Nova\'s proxy; 404 from 2.36)', success: [202] },
  },
];
