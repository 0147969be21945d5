import type { MiddlewareObj } from '@middy/core';
import { authorize, type PolicyName } from '../../core/policy.js';
import type { ApiContext, ApiEvent, ApiResult } from '../http.js';

// Which of Nova's policies (functions/core/policy.ts) a request needs, by method and path, checked
// before the route runs: a reader's write is refused before anything is read or written. The
// admin-only rules that depend on the server (reset_state, unlocking an admin's lock) are checked
// by the domain where it has the server.

const ID = '[^/]+';
const RULES: readonly (readonly [string, RegExp, PolicyName])[] = [
  ['GET', /^\/v2\.1\/servers$/, 'os_compute_api:servers:index'],
  ['GET', /^\/v2\.1\/servers\/detail$/, 'os_compute_api:servers:detail'],
  ['POST', /^\/v2\.1\/servers$/, 'os_compute_api:servers:create'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/os-volume_attachments(/${ID})?$`), 'os_compute_api:os-volumes-attachments:index'],
  ['POST', new RegExp(`^/v2\\.1/servers/${ID}/os-volume_attachments$`), 'os_compute_api:os-volumes-attachments:create'],
  ['PUT', new RegExp(`^/v2\\.1/servers/${ID}/os-volume_attachments/${ID}$`), 'os_compute_api:os-volumes-attachments:update'],
  ['DELETE', new RegExp(`^/v2\\.1/servers/${ID}/os-volume_attachments/${ID}$`), 'os_compute_api:os-volumes-attachments:delete'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/os-interface(/${ID})?$`), 'os_compute_api:os-attach-interfaces:list'],
  ['POST', new RegExp(`^/v2\\.1/servers/${ID}/os-interface$`), 'os_compute_api:os-attach-interfaces:create'],
  ['DELETE', new RegExp(`^/v2\\.1/servers/${ID}/os-interface/${ID}$`), 'os_compute_api:os-attach-interfaces:delete'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/os-instance-actions(/${ID})?$`), 'os_compute_api:os-instance-actions:list'],
  ['POST', new RegExp(`^/v2\\.1/servers/${ID}/action$`), 'os_compute_api:servers:action'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/metadata$`), 'os_compute_api:server-metadata:index'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/metadata/${ID}$`), 'os_compute_api:server-metadata:show'],
  ['POST', new RegExp(`^/v2\\.1/servers/${ID}/metadata$`), 'os_compute_api:server-metadata:create'],
  ['PUT', new RegExp(`^/v2\\.1/servers/${ID}/metadata$`), 'os_compute_api:server-metadata:update_all'],
  ['PUT', new RegExp(`^/v2\\.1/servers/${ID}/metadata/${ID}$`), 'os_compute_api:server-metadata:update'],
  ['DELETE', new RegExp(`^/v2\\.1/servers/${ID}/metadata/${ID}$`), 'os_compute_api:server-metadata:delete'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/tags$`), 'os_compute_api:os-server-tags:index'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/tags/${ID}$`), 'os_compute_api:os-server-tags:show'],
  ['PUT', new RegExp(`^/v2\\.1/servers/${ID}/tags$`), 'os_compute_api:os-server-tags:update_all'],
  ['PUT', new RegExp(`^/v2\\.1/servers/${ID}/tags/${ID}$`), 'os_compute_api:os-server-tags:update'],
  ['DELETE', new RegExp(`^/v2\\.1/servers/${ID}/tags$`), 'os_compute_api:os-server-tags:delete_all'],
  ['DELETE', new RegExp(`^/v2\\.1/servers/${ID}/tags/${ID}$`), 'os_compute_api:os-server-tags:delete'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/ips$`), 'os_compute_api:ips:index'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}/ips/${ID}$`), 'os_compute_api:ips:show'],
  ['GET', /^\/v2\.1\/os-keypairs$/, 'os_compute_api:os-keypairs:index'],
  ['POST', /^\/v2\.1\/os-keypairs$/, 'os_compute_api:os-keypairs:create'],
  ['GET', new RegExp(`^/v2\\.1/os-keypairs/${ID}$`), 'os_compute_api:os-keypairs:show'],
  ['DELETE', new RegExp(`^/v2\\.1/os-keypairs/${ID}$`), 'os_compute_api:os-keypairs:delete'],
  ['GET', /^\/v2\.1\/os-availability-zone$/, 'os_compute_api:os-availability-zone:list'],
  ['GET', /^\/v2\.1\/os-availability-zone\/detail$/, 'os_compute_api:os-availability-zone:detail'],
  ['GET', new RegExp(`^/v2\\.1/servers/${ID}$`), 'os_compute_api:servers:show'],
  ['PUT', new RegExp(`^/v2\\.1/servers/${ID}$`), 'os_compute_api:servers:update'],
  ['DELETE', new RegExp(`^/v2\\.1/servers/${ID}$`), 'os_compute_api:servers:delete'],
  ['GET', new RegExp(`^/v2\\.1/flavors/${ID}/os-extra_specs(/${ID})?$`), 'os_compute_api:os-flavor-extra-specs:index'],
  ['POST', new RegExp(`^/v2\\.1/flavors/${ID}/os-extra_specs$`), 'os_compute_api:os-flavor-extra-specs:create'],
  ['PUT', new RegExp(`^/v2\\.1/flavors/${ID}/os-extra_specs/${ID}$`), 'os_compute_api:os-flavor-extra-specs:update'],
  ['DELETE', new RegExp(`^/v2\\.1/flavors/${ID}/os-extra_specs/${ID}$`), 'os_compute_api:os-flavor-extra-specs:delete'],
  ['GET', /^\/v2\.1\/flavors(\/.*)?$/, 'os_compute_api:flavors'],
  ['POST', /^\/v2\.1\/flavors$/, 'os_compute_api:os-flavor-manage:create'],
  ['PUT', new RegExp(`^/v2\\.1/flavors/${ID}$`), 'os_compute_api:os-flavor-manage:update'],
  ['DELETE', new RegExp(`^/v2\\.1/flavors/${ID}$`), 'os_compute_api:os-flavor-manage:delete'],
];

/** Listing other projects' servers (Nova's all_tenants, or tenant_id) is the admin's. */
const ALL_TENANTS: Partial<Record<PolicyName, PolicyName>> = {
  'os_compute_api:servers:index': 'os_compute_api:servers:index:get_all_tenants',
  'os_compute_api:servers:detail': 'os_compute_api:servers:detail:get_all_tenants',
};

export function policyFor(method: string, path: string, query: Record<string, unknown> | null | undefined): PolicyName | undefined {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const rule = RULES.find(([m, pattern]) => m === method && pattern.test(trimmed))?.[2];
  if (rule && ALL_TENANTS[rule] && query && ('all_tenants' in query || 'tenant_id' in query)) return ALL_TENANTS[rule];
  return rule;
}

export function policy(isPublic: (event: ApiEvent) => boolean): MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext> {
  return {
    before: (request) => {
      if (isPublic(request.event)) return;
      const rule = policyFor(request.event.httpMethod, request.event.path, request.event.queryStringParameters);
      if (rule) authorize(request.context.caller, rule);
    },
  };
}
