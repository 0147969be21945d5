import { Forbidden } from './errors.js';
import type { Role } from '../identity/identity.js';
import type { Caller } from '../compute/instance.js';

// Nova's default policies (nova/policies/*.py, "secure RBAC" defaults), as one table: for each
// rule taskgate enforces, the least role that passes it. Ownership (the project) is checked where
// the server is read: a server of another project is 404, exactly like one that does not exist
// (functions/core/compute/instance.ts, isVisibleTo); an admin passes both checks.
//   reader: PROJECT_READER_OR_ADMIN     member: PROJECT_MEMBER_OR_ADMIN     admin: ADMIN
//   any:    any authenticated caller (Nova's RULE_ANY, e.g. listing flavors)

export type Requirement = 'any' | 'reader' | 'member' | 'admin';

/**
 * Glance's image rules (glance/policies/image.py, secure-RBAC defaults), by Glance's own names.
 * Visibility and ownership (the image's owner project) are checked where the image is read
 * (functions/core/images/access.ts): another project's private image is 404.
 */
export const IMAGE_POLICIES = {
  get_images: 'reader',
  get_image: 'reader',
  add_image: 'member',
  modify_image: 'member',
  delete_image: 'member',
  /** Making an image public; community is any member's (communitize_image). */
  publicize_image: 'admin',
  communitize_image: 'member',
  upload_image: 'member',
  download_image: 'member',
  /** Glance checks no rule on its JSON schemas: any caller with a valid token reads them. */
  get_image_schemas: 'any',
} as const satisfies Record<string, Requirement>;

/**
 * Neutron's (neutron/conf/policies/*.py): the role each needs; the owner checks that go with it
 * (the project, a shared or external network, the network's owner) are the network service's
 * (functions/core/networks/), where a resource the project cannot see is a 404.
 */
export const NETWORK_POLICIES = {
  'get_network': 'reader',
  'create_network': 'member',
  'create_network:shared': 'admin',
  'create_network:router:external': 'admin',
  'update_network': 'member',
  'update_network:shared': 'admin',
  'update_network:router:external': 'admin',
  'delete_network': 'member',
  'get_subnet': 'reader',
  'create_subnet': 'member',
  'update_subnet': 'member',
  'delete_subnet': 'member',
  'get_port': 'reader',
  'create_port': 'member',
  /** Also the network's owner (NET_OWNER_MEMBER): functions/api/networks/ports.ts. */
  'create_port:mac_address': 'admin',
  'create_port:fixed_ips:ip_address': 'admin',
  'create_port:device_owner': 'admin',
  'create_port:binding:host_id': 'admin',
  'update_port': 'member',
  'update_port:binding:host_id': 'admin',
  'update_port:device_owner': 'admin',
  'delete_port': 'member',
  'get_security_group': 'reader',
  'create_security_group': 'member',
  'update_security_group': 'member',
  'delete_security_group': 'member',
  'get_security_group_rule': 'reader',
  'create_security_group_rule': 'member',
  'delete_security_group_rule': 'member',
  /** Neutron checks no rule for its extensions and version documents: any authenticated caller. */
  'get_extension': 'any',
} as const satisfies Record<string, Requirement>;

export const POLICIES = {
  ...IMAGE_POLICIES,
  ...NETWORK_POLICIES,
  'os_compute_api:servers:index': 'reader',
  'os_compute_api:servers:detail': 'reader',
  'os_compute_api:servers:show': 'reader',
  'os_compute_api:servers:index:get_all_tenants': 'admin',
  'os_compute_api:servers:detail:get_all_tenants': 'admin',
  'os_compute_api:servers:create': 'member',
  'os_compute_api:servers:delete': 'member',
  'os_compute_api:servers:update': 'member',
  /** Every server action (reboot, rebuild, resize, shelve, lock, ...) but those below. */
  'os_compute_api:servers:action': 'member',
  'os_compute_api:os-admin-actions:reset_state': 'admin',
  'os_compute_api:os-lock-server:unlock:unlock_override': 'admin',
  // nova/policies/migrate_server.py, evacuate.py, migrations.py, servers_migrations.py: Nova's
  // PROJECT_MANAGER_OR_ADMIN (migrate, live migrate, the per-server migrations) and ADMIN
  // (evacuate, os-migrations, a chosen host); taskgate has no manager role: its administrators.
  'os_compute_api:os-migrate-server:migrate': 'admin',
  'os_compute_api:os-migrate-server:migrate_live': 'admin',
  'os_compute_api:os-evacuate': 'admin',
  'os_compute_api:os-migrations:index': 'admin',
  'os_compute_api:servers:migrations:index': 'admin',
  'os_compute_api:servers:migrations:show': 'admin',
  'os_compute_api:servers:migrations:force_complete': 'admin',
  'os_compute_api:servers:migrations:delete': 'admin',
  'os_compute_api:os-volumes-attachments:index': 'reader',
  'os_compute_api:os-volumes-attachments:show': 'reader',
  'os_compute_api:os-volumes-attachments:create': 'member',
  'os_compute_api:os-volumes-attachments:update': 'member',
  'os_compute_api:os-volumes-attachments:delete': 'member',
  'os_compute_api:os-attach-interfaces:list': 'reader',
  'os_compute_api:os-attach-interfaces:show': 'reader',
  'os_compute_api:os-attach-interfaces:create': 'member',
  'os_compute_api:os-attach-interfaces:delete': 'member',
  'os_compute_api:os-instance-actions:list': 'reader',
  'os_compute_api:os-instance-actions:show': 'reader',
  'os_compute_api:server-metadata:index': 'reader',
  'os_compute_api:server-metadata:show': 'reader',
  'os_compute_api:server-metadata:create': 'member',
  'os_compute_api:server-metadata:update_all': 'member',
  'os_compute_api:server-metadata:update': 'member',
  'os_compute_api:server-metadata:delete': 'member',
  'os_compute_api:os-server-tags:index': 'reader',
  'os_compute_api:os-server-tags:show': 'reader',
  'os_compute_api:os-server-tags:update_all': 'member',
  'os_compute_api:os-server-tags:update': 'member',
  'os_compute_api:os-server-tags:delete_all': 'member',
  'os_compute_api:os-server-tags:delete': 'member',
  'os_compute_api:ips:index': 'reader',
  'os_compute_api:ips:show': 'reader',
  /** Key pairs belong to a user, not a project: Nova's rule is "admin or the owner" (the route scopes them). */
  'os_compute_api:os-keypairs:index': 'any',
  'os_compute_api:os-keypairs:show': 'any',
  'os_compute_api:os-keypairs:create': 'any',
  'os_compute_api:os-keypairs:delete': 'any',
  'os_compute_api:os-availability-zone:list': 'any',
  'os_compute_api:os-availability-zone:detail': 'admin',
  'os_compute_api:flavors': 'any',
  'os_compute_api:os-flavor-extra-specs:index': 'reader',
  'os_compute_api:os-flavor-extra-specs:show': 'reader',
  'os_compute_api:os-flavor-extra-specs:create': 'admin',
  'os_compute_api:os-flavor-extra-specs:update': 'admin',
  'os_compute_api:os-flavor-extra-specs:delete': 'admin',
  'os_compute_api:os-flavor-manage:create': 'admin',
  'os_compute_api:os-flavor-manage:update': 'admin',
  'os_compute_api:os-flavor-manage:delete': 'admin',
  'os_compute_api:os-flavor-access': 'admin',
  'os_compute_api:os-flavor-access:add_tenant_access': 'admin',
  'os_compute_api:os-flavor-access:remove_tenant_access': 'admin',
  // nova/policies/quota_sets.py, quota_class_sets.py, limits.py: a reader sees its own project's
  // quotas (the route checks the project), an admin any and changes them.
  'os_compute_api:os-quota-sets:show': 'reader',
  'os_compute_api:os-quota-sets:detail': 'reader',
  'os_compute_api:os-quota-sets:defaults': 'any',
  'os_compute_api:os-quota-sets:update': 'admin',
  'os_compute_api:os-quota-sets:delete': 'admin',
  'os_compute_api:os-quota-class-sets:show': 'admin',
  'os_compute_api:os-quota-class-sets:update': 'admin',
  'os_compute_api:limits': 'any',
  'os_compute_api:limits:other_project': 'admin',
  // Placement's (nova/policies/server_groups.py, hypervisors.py, services.py, hosts.py): a member's
  // server groups are its project's (the route checks it); hosts, hypervisors, services are admins'.
  'os_compute_api:os-server-groups:index': 'reader',
  'os_compute_api:os-server-groups:index:all_projects': 'admin',
  'os_compute_api:os-server-groups:show': 'reader',
  'os_compute_api:os-server-groups:create': 'member',
  'os_compute_api:os-server-groups:delete': 'member',
  'os_compute_api:os-hypervisors:list': 'admin',
  'os_compute_api:os-hypervisors:list-detail': 'admin',
  'os_compute_api:os-hypervisors:show': 'admin',
  'os_compute_api:os-hypervisors:statistics': 'admin',
  'os_compute_api:os-hypervisors:servers': 'admin',
  'os_compute_api:os-hypervisors:search': 'admin',
  'os_compute_api:os-hypervisors:uptime': 'admin',
  'os_compute_api:os-services:list': 'admin',
  'os_compute_api:os-services:update': 'admin',
  'os_compute_api:os-hosts:list': 'admin',
  'os_compute_api:os-hosts:show': 'admin',
  'os_compute_api:os-hosts:update': 'admin',
  'os_compute_api:os-hosts:start': 'admin',
  'os_compute_api:os-hosts:shutdown': 'admin',
  'os_compute_api:os-hosts:reboot': 'admin',
  'os_compute_api:os-aggregates:index': 'admin',
  'os_compute_api:os-aggregates:create': 'admin',
  'os_compute_api:os-aggregates:show': 'admin',
  'os_compute_api:os-aggregates:update': 'admin',
  'os_compute_api:os-aggregates:delete': 'admin',
  /** add_host, remove_host and set_metadata: each admin's, one route (the action decides which). */
  'os_compute_api:os-aggregates:add_host': 'admin',
  // nova/policies/server_diagnostics.py, server_password.py, server_external_events.py (Nova's
  // SERVICE_ROLE; taskgate has no service role: its administrators), simple_tenant_usage.py (a
  // reader sees its own project's: the route checks the project), instance_usage_audit_log.py.
  'os_compute_api:os-server-diagnostics': 'admin',
  'os_compute_api:os-server-password:show': 'reader',
  'os_compute_api:os-server-password:clear': 'member',
  'os_compute_api:os-server-external-events:create': 'admin',
  'os_compute_api:os-simple-tenant-usage:show': 'reader',
  'os_compute_api:os-simple-tenant-usage:list': 'admin',
  'os_compute_api:os-instance-usage-audit-log:list': 'admin',
  'os_compute_api:os-instance-usage-audit-log:show': 'admin',
  // Cinder's (cinder/policies/volumes.py, volume_actions.py, volume_type.py, quotas.py, limits.py):
  // another project's volume is 404 where it is read (functions/core/volumes/volume.ts isVisible).
  'volume:create': 'member',
  'volume:get': 'reader',
  'volume:get_all': 'reader',
  'volume:update': 'member',
  'volume:delete': 'member',
  'volume:extend': 'member',
  'volume:extend_attached_volume': 'member',
  'volume_extension:volume_admin_actions:reset_status': 'admin',
  'volume_extension:type_get': 'any',
  'volume_extension:type_get_all': 'any',
  'volume_extension:quotas:show': 'reader',
  'limits_extension:used_limits': 'reader',
  // Nova's proxies to Neutron (nova/policies/networks.py, security_groups.py), served below 2.36.
  'os_compute_api:os-networks:list': 'reader',
  'os_compute_api:os-networks:show': 'reader',
  'os_compute_api:os-security-groups:get': 'reader',
  'os_compute_api:os-security-groups:show': 'reader',
  'os_compute_api:os-security-groups:create': 'member',
  'os_compute_api:os-security-groups:delete': 'member',
} as const satisfies Record<string, Requirement>;

export type PolicyName = keyof typeof POLICIES;

/** Roles that satisfy each requirement (admin implies member implies reader, as Keystone's implied roles do). */
const SATISFIED_BY: Record<Requirement, readonly Role[] | 'anyone'> = {
  any: 'anyone',
  reader: ['reader', 'member', 'admin'],
  member: ['member', 'admin'],
  admin: ['admin'],
};

/**
 * Whether the roles include `role`, by exact string equality: no trimming, case folding or
 * Unicode normalization, so `Admin`, ` admin`, Cyrillic `аdmin` or `admin` + a zero-width space
 * are other roles. The one place role names are compared (the admin decision, callerOf, uses it too).
 */
export function hasRole(roles: readonly unknown[], role: Role): boolean {
  // oslo.policy compares role names case-insensitively; taskgate deliberately matches exactly (an IdP group named `Admin` must not silently become an administrator).
  return roles.some((r) => r === role);
}

export function allows(caller: Pick<Caller, 'roles'>, policy: PolicyName): boolean {
  const needed = SATISFIED_BY[POLICIES[policy]];
  return needed === 'anyone' || needed.some((role) => hasRole(caller.roles, role));
}

/** Nova's 403 for a policy the caller fails, naming the rule as Nova does. */
export function authorize(caller: Pick<Caller, 'roles'>, policy: PolicyName): void {
  if (!allows(caller, policy)) throw new Forbidden(refusal(policy));
}

/**
 * A refused policy in its service's words: Glance's (oslo.policy's Forbidden in
 * glance/common/exception.py), Neutron's (neutron-lib's PolicyNotAuthorized), else Nova's.
 */
export function refusal(policy: PolicyName): string {
  if (Object.hasOwn(IMAGE_POLICIES, policy)) return `You are not authorized to complete ${policy} action.`;
  if (Object.hasOwn(NETWORK_POLICIES, policy)) return `rule:${policy} is disallowed by policy`;
  return `Policy doesn't allow ${policy} to be performed.`;
}
