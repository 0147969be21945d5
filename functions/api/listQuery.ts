import { BadRequest, Forbidden } from '../core/shared/errors.js';
import { canonicalUuid, isUuid } from '../core/shared/ids.js';
import { excerpt } from './excerpt.js';
import { attachmentsOf, Ports } from '../core/shared/attachables.js';
import { addressFilter, nameFilter } from './nameFilter.js';
import { reservationIdOf, type Caller, type Instance } from '../core/compute/instance.js';
import { isAtLeast, type ApiVersion } from './apiVersion.js';
import { statusFilter } from './status.js';
import { hostOf } from './views.js';

// GET /servers[/detail] query parameters as Nova reads them (servers.py _get_servers,
// remove_invalid_options, schemas/servers.py query_params_v21..v275).

/** A server's fixed addresses, from its ports (one or several per port). */
function fixedAddressesOf(s: Instance): string[] {
  return attachmentsOf(s, Ports).flatMap((p) => [...(p.fixedIps ?? []).map((f) => f.ipAddress), ...(p.fixedIp ? [p.fixedIp] : [])]);
}

/** Nova's api.max_limit: the most items one page may hold, whatever `limit` asks. */
export const MAX_LIMIT = 1000;
/**
 * A server page without `limit`: 100 servers, one Query of the project index (their volumes and
 * ports are on the items). Nova answers max_limit servers here; a smaller first page keeps an
 * unbounded list cheap, and every client follows the `next` link.
 */
export const DEFAULT_PAGE_SIZE = 100;

/** A `limit` query parameter as Nova reads it (validate_integer, min 0), at most MAX_LIMIT. */
export function pageLimit(value: string | undefined, absent: number = MAX_LIMIT): number {
  if (value === undefined) return absent;
  if (!/^-?\d+$/.test(value)) throw new BadRequest('limit param must be an integer');
  const limit = Number(value);
  if (limit < 0) throw new BadRequest('limit param must be positive');
  return Math.min(limit, MAX_LIMIT);
}

/** oslo's parse_isotime: an ISO 8601 date, optionally with time, fraction and zone. */
const ISO8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** changes-since / changes-before as epoch ms; Nova's 400 for a value that is no date-time. */
export function parseChangesTime(q: Record<string, string | undefined>, name: string): number | undefined {
  const value = q[name];
  if (value === undefined) return undefined;
  const m = ISO8601.exec(value);
  let t = NaN;
  if (m) {
    let text = value.replace(' ', 'T');
    if (m[1] && !m[4]) text += 'Z';
    if (m[1]) text = text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2').replace(/([+-]\d{2})$/, '$1:00');
    t = Date.parse(text);
  }
  if (Number.isNaN(t)) {
    throw new BadRequest(`Invalid input for query parameters ${name}. Value: ${value}. '${value}' is not a 'date-time'`);
  }
  return t;
}

/** Filters every user may use; the rest are silently dropped for non-admins (remove_invalid_options). */
function userOptions(v: ApiVersion): Set<string> {
  const opts = ['reservation_id', 'name', 'status', 'image', 'flavor', 'ip', 'changes-since', 'all_tenants'];
  if (isAtLeast(v, '2.5')) opts.push('ip6');
  if (isAtLeast(v, '2.26')) opts.push('tags', 'tags-any', 'not-tags', 'not-tags-any');
  if (isAtLeast(v, '2.66')) opts.push('changes-before');
  if (isAtLeast(v, '2.73')) opts.push('locked');
  if (isAtLeast(v, '2.83')) {
    opts.push('availability_zone', 'config_drive', 'key_name', 'created_at', 'launched_at', 'terminated_at',
      'power_state', 'task_state', 'vm_state', 'progress', 'user_id');
  }
  return new Set(opts);
}

/** Every parameter Nova's query schema knows (from 2.75 anything else is 400). */
const KNOWN = new Set([
  'user_id', 'project_id', 'tenant_id', 'launch_index', 'image_ref', 'image', 'kernel_id', 'ramdisk_id', 'hostname',
  'key_name', 'power_state', 'vm_state', 'task_state', 'host', 'node', 'flavor', 'reservation_id', 'launched_at',
  'terminated_at', 'availability_zone', 'name', 'display_name', 'description', 'display_description', 'locked_by',
  'uuid', 'root_device_name', 'config_drive', 'access_ip_v4', 'access_ip_v6', 'auto_disk_config', 'progress',
  'sort_key', 'sort_dir', 'all_tenants', 'soft_deleted', 'deleted', 'status', 'changes-since', 'changes-before',
  'ip', 'ip6', 'created_at', 'block_device_mapping', 'services', 'metadata', 'pci_devices', 'security_groups',
  'info_cache', 'system_metadata', 'tags', 'tags-any', 'not-tags', 'not-tags-any', 'limit', 'marker', 'locked',
  'fault', 'numa_topology', 'vcpu_model', 'ec2_ids', 'keypairs', 'trusted_certs', 'migration_context', 'flavors',
  'resources', 'device_metadata', 'pci_requests', 'compute_id', 'cell_name', 'shutdown_terminate',
  'cleaned', 'internal_id', 'architecture', 'os_type', 'vm_mode', 'default_ephemeral_device', 'default_swap_device',
  'ephemeral_gb', 'ephemeral_key_uuid', 'key_data', 'memory_mb', 'root_gb', 'user_data', 'vcpus', 'updated_at',
  'deleted_at', 'display_description', 'availability_zone', 'host_status',
]);

const bool = (s: string) => ['true', '1', 'on', 'yes', 't', 'y'].includes(s.toLowerCase());

export interface ServerListQuery {
  readonly limit: number;
  readonly marker?: string;
  readonly filter: (s: Instance) => boolean;
  readonly projectId?: string;
  readonly allProjects?: boolean;
  /** Nova answers an unknown status before 2.38 with an empty list. */
  readonly nothing?: boolean;
}

/** Reads the list's query as Nova does at version `v` for `caller` (a name or address filter loads its regular-expression engine). */
export async function serverListQuery(
  q: Record<string, string | undefined>, multi: Record<string, string[] | undefined>, v: ApiVersion, caller: Caller,
): Promise<ServerListQuery> {
  if (isAtLeast(v, '2.75')) {
    for (const key of Object.keys(q)) {
      if (!KNOWN.has(key)) {
        throw new BadRequest(`Invalid input for query parameters ${key}. Value: ${q[key]}. Additional properties are not allowed ('${key}' was unexpected)`);
      }
    }
  }
  const allowed = caller.isAdmin ? undefined : userOptions(v);
  const opt = (key: string) => (allowed && !allowed.has(key) ? undefined : q[key]);

  const limit = pageLimit(q.limit, DEFAULT_PAGE_SIZE);

  const filters: ((s: Instance) => boolean)[] = [];
  let nothing = false;
  const name = opt('name');
  if (name) {
    const matches = await nameFilter(name);
    filters.push((s) => matches(s.name));
  }
  for (const param of ['ip', 'ip6'] as const) {
    const pattern = opt(param);
    if (!pattern) continue;
    const matches = await addressFilter(param, pattern);
    const v6 = param === 'ip6';
    filters.push((s) => matches(fixedAddressesOf(s).filter((a) => a.includes(':') === v6)));
  }
  const statuses = multi.status ?? (q.status ? [q.status] : []);
  if (statuses.length > 0) {
    if (statuses.some((st) => st.toUpperCase() === 'DELETED') && !caller.isAdmin) {
      throw new Forbidden('Only administrators may list deleted instances');
    }
    const matches = statusFilter(statuses);
    const known = ['ACTIVE', 'BUILD', 'REBUILD', 'REBOOT', 'HARD_REBOOT', 'RESIZE', 'VERIFY_RESIZE', 'REVERT_RESIZE',
      'SHUTOFF', 'PAUSED', 'SUSPENDED', 'RESCUE', 'ERROR', 'DELETED', 'SOFT_DELETED', 'SHELVED', 'SHELVED_OFFLOADED',
      'MIGRATING', 'PASSWORD', 'UNKNOWN'];
    if (!statuses.some((st) => known.includes(st.trim().toUpperCase()))) {
      if (isAtLeast(v, '2.38')) throw new BadRequest('Invalid status value');
      nothing = true;
    }
    filters.push((s) => matches(s.vmState, s.taskState));
  }
  const image = opt('image');
  if (image) filters.push((s) => s.imageId === image.replace(/^.*\//, ''));
  const flavor = opt('flavor');
  if (flavor) filters.push((s) => s.flavorId === flavor.replace(/^.*\//, ''));
  const reservation = opt('reservation_id');
  if (reservation) filters.push((s) => reservationIdOf(s) === reservation);
  const host = opt('host');
  if (host !== undefined) filters.push((s) => hostOf(s) === host);
  const since = opt('changes-since') !== undefined ? parseChangesTime(q, 'changes-since') : undefined;
  const before = opt('changes-before') !== undefined ? parseChangesTime(q, 'changes-before') : undefined;
  if (since !== undefined && before !== undefined && before < since) {
    throw new BadRequest('The value of changes-since must be less than or equal to changes-before.');
  }
  if (since !== undefined) filters.push((s) => Date.parse(s.updated) >= since);
  if (before !== undefined) filters.push((s) => Date.parse(s.updated) <= before);
  if (isAtLeast(v, '2.26')) {
    const list = (key: string) => opt(key)?.split(',').map((t) => t.trim()).filter(Boolean);
    const tags = list('tags');
    const anyTags = list('tags-any');
    const notTags = list('not-tags');
    const notAny = list('not-tags-any');
    const has = (s: Instance, t: string) => (s.tags ?? []).includes(t);
    if (tags) filters.push((s) => tags.every((t) => has(s, t)));
    if (anyTags) filters.push((s) => anyTags.some((t) => has(s, t)));
    if (notTags) filters.push((s) => !notTags.every((t) => has(s, t)));
    if (notAny) filters.push((s) => !notAny.some((t) => has(s, t)));
  }
  const locked = opt('locked');
  if (locked !== undefined && isAtLeast(v, '2.73')) {
    if (!/^(true|false|1|0|on|off|yes|no|t|f|y|n)$/i.test(locked)) {
      throw new BadRequest(`Unrecognized value '${locked}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`);
    }
    filters.push((s) => s.locked === bool(locked));
  }
  const exact: [string, (s: Instance) => unknown][] = [
    ['key_name', (s) => s.keyName], ['user_id', (s) => s.userId], ['availability_zone', (s) => s.availabilityZone ?? 'nova'],
    ['vm_state', (s) => s.vmState], ['task_state', (s) => s.taskState], ['power_state', (s) => String(s.powerState)],
    ['uuid', (s) => s.id], ['hostname', (s) => s.hostname], ['description', (s) => s.description],
  ];
  for (const [key, get] of exact) {
    const want = opt(key);
    if (want !== undefined) filters.push((s) => String(get(s) ?? '') === want);
  }

  // all_tenants: administrators only (Nova's policy answers 403); tenant_id counts only with it.
  const allTenantsValue = q.all_tenants;
  const allTenants = allTenantsValue !== undefined && (allTenantsValue === '' || bool(allTenantsValue));
  if (allTenants && !caller.isAdmin) {
    throw new Forbidden('Policy doesn\'t allow os_compute_api:servers:index:get_all_tenants to be performed.');
  }
  const tenant = allTenants ? (q.tenant_id ?? q.project_id) : undefined;
  // A marker is a server id; one that is not a UUID names no server (Nova: 400 "not found").
  if (q.marker !== undefined && !isUuid(q.marker)) throw new BadRequest(`marker [${excerpt(q.marker)}] not found`);
  const marker = q.marker === undefined ? undefined : canonicalUuid(q.marker);
  return {
    limit, marker, filter: (s) => filters.every((f) => f(s)), nothing,
    ...(allTenants ? (tenant ? { projectId: tenant } : { allProjects: true }) : {}),
  };
}
