import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { MAX_VERSION, versionString } from '../../functions/api/apiVersion.js';
import { apiRoutes } from '../../functions/api/routes.js';
import { PUBLIC, type ApiRoute } from '../../functions/api/http.js';
import { JwtIdentityProvider } from '../../functions/core/identity/jwt.js';
import { serviceFault } from '../../functions/api/middleware/novaErrors.js';
import { serviceOf } from '../../functions/api/services.js';
import { refusal } from '../../functions/core/shared/policy.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE, Nova } from '../support/nova.js';
import { Cinder } from '../support/volumes.js';
import { makePort, neutron } from '../support/networks.js';

// Nova's default policies and project isolation over real HTTP, for EVERY route the API registers
// (a new route is walked without being listed here), in the identity modes `npm test` runs:
// - JWT (tokens minted here with any roles and project, the local runtime running the authorizer
//   before the API as API Gateway does): a reader of the owning project reads everything and is
//   refused every write with its service's 403 (Nova's, Glance's), before anything is written;
// - both JWT and noauth (`user:project`, user `admin` the administrator): a member of another
//   project gets 404 for every route naming the server, with none of its data, and nothing changes;
//   an administrator of another project passes every route.
// The Keystone suite (test/keystone/) checks the same against a real Keystone.

const VERSION = `compute ${versionString(MAX_VERSION)}`;
const ROUTES = apiRoutes(undefined as never).filter((r) => r.policy !== PUBLIC);
const name = (r: ApiRoute) => `${r.method} ${r.path}`;
const isWrite = (r: ApiRoute) => r.method !== 'GET';
const namesServer = (r: ApiRoute) => r.path.startsWith('/v2.1/servers/{server_id}');
/** The owning project (both modes' owner acts for it): Cinder's paths name it. */
const OWNER_PROJECT = 'proj-a';

/** os-hosts' power actions: GETs that would change a host (Nova's API), administrators' alone, and not supported (501). */
const HOST_POWER_ACTIONS = ['startup', 'shutdown', 'reboot'].map((a) => `GET /v2.1/os-hosts/{host_name}/${a}`);
/** Nova's exceptions to "a reader reads and does not write": */
// key pairs are the user's own (owner-or-admin rules), whatever the user's role in the project;
const USER_OWNED = (r: ApiRoute) => r.path.startsWith('/v2.1/os-keypairs');
// and a few reads are the administrator's alone (Nova's ADMIN rules).
const ADMIN_READS = [
  'GET /v2.1/os-availability-zone/detail', 'GET /v2.1/flavors/{flavor_id}/os-flavor-access', 'GET /v2.1/os-quota-class-sets/{quota_project_id}',
  'GET /v2.1/os-hypervisors', 'GET /v2.1/os-hypervisors/detail', 'GET /v2.1/os-hypervisors/statistics', 'GET /v2.1/os-hypervisors/{hypervisor_id}',
  'GET /v2.1/os-hypervisors/{hypervisor_id}/servers', 'GET /v2.1/os-hypervisors/{hypervisor_id}/search', 'GET /v2.1/os-services',
  'GET /v2.1/os-hypervisors/{hypervisor_id}/uptime', 'GET /v2.1/os-hosts', 'GET /v2.1/os-hosts/{host_name}', ...HOST_POWER_ACTIONS, 'GET /v2.1/os-aggregates', 'GET /v2.1/os-aggregates/{aggregate_id}',
  'GET /v2.1/os-simple-tenant-usage', 'GET /v2.1/os-instance_usage_audit_log', 'GET /v2.1/os-instance_usage_audit_log/{before_timestamp}',
  // Nova's server_diagnostics.py is ADMIN, checked after the server is found (so another project's member still gets 404).
  'GET /v2.1/servers/{server_id}/diagnostics',
  // Migrations: os-migrations is ADMIN; a server's are PROJECT_MANAGER_OR_ADMIN (administrators here), found first.
  'GET /v2.1/os-migrations', 'GET /v2.1/servers/{server_id}/migrations', 'GET /v2.1/servers/{server_id}/migrations/{migration_id}',
];
/** A server's live migration: the fixture's server has none in progress, so its show is 404 and its abort and force_complete Nova's 409. */
const NO_LIVE_MIGRATION = 'GET /v2.1/servers/{server_id}/migrations/{migration_id}';
const NO_LIVE_MIGRATION_WRITES = ['POST /v2.1/servers/{server_id}/migrations/{migration_id}/action', 'DELETE /v2.1/servers/{server_id}/migrations/{migration_id}'];
/** Nova keeps no access list for a public flavor (the fixture's flavor 1): an admin's read is 404. */
const PUBLIC_FLAVOR_ACCESS = 'GET /v2.1/flavors/{flavor_id}/os-flavor-access';
/** A route whose policy depends on its body: the one its sample needs (flavor actions: addTenantAccess). */
const SAMPLE_POLICY: Record<string, string> = { 'POST /v2.1/flavors/{flavor_id}/action': 'os_compute_api:os-flavor-access:add_tenant_access' };
// Glance's: downloading image data is a member's (download_image).
const MEMBER_READS = ['GET /image/v2/images/{image_id}/file'];
/** Writes taskgate answers 501 for: it keeps no image data. */
const NOT_IMPLEMENTED = ['PUT /image/v2/images/{image_id}/file', ...HOST_POWER_ACTIONS];
/** Nova's image proxy is served up to 2.35 (its metadata to 2.38): walked at 2.35. */
const isImageProxy = (r: ApiRoute) => r.path.startsWith('/v2.1/images');
/** Nova's network and security group proxies are served up to 2.35: walked at 2.35. */
const isNetworkProxy = (r: ApiRoute) => r.path.startsWith('/v2.1/os-networks') || r.path.startsWith('/v2.1/os-security-groups');
/** A query a read needs to answer the same to every caller: a usage period that ended (a current one moves with the clock). */
const QUERY: Record<string, string> = {
  'GET /v2.1/os-simple-tenant-usage': '?start=2020-01-01T00:00:00&end=2020-02-01T00:00:00',
  'GET /v2.1/os-simple-tenant-usage/{project_id}': '?start=2020-01-01T00:00:00&end=2020-02-01T00:00:00',
};
/** Routes Nova serves below a microversion only: walked at the last one that has them. */
const LAST_SERVED: Record<string, string> = {
  'GET /v2.1/os-hosts': '2.42', 'GET /v2.1/os-hosts/{host_name}': '2.42', 'PUT /v2.1/os-hosts/{host_name}': '2.42',
  ...Object.fromEntries(HOST_POWER_ACTIONS.map((r) => [r, '2.42'])),
  'GET /v2.1/os-hypervisors/{hypervisor_id}/servers': '2.52', 'GET /v2.1/os-hypervisors/{hypervisor_id}/search': '2.52',
  'PUT /v2.1/os-services/enable': '2.52', 'PUT /v2.1/os-services/disable': '2.52',
  'PUT /v2.1/os-services/disable-log-reason': '2.52', 'PUT /v2.1/os-services/force-down': '2.52',
};
/** A route's refusal of its policy, in its service's body and words. */
const refused = (r: ApiRoute) => JSON.parse(serviceFault(serviceOf(r.path), 'forbidden', 403, refusal((SAMPLE_POLICY[name(r)] ?? r.policy) as Parameters<typeof refusal>[0])).body);

/**
 * Every server action's body: the action route is one route, walked above with a reboot; each of
 * Nova's actions is its own rule (all PROJECT_MEMBER_OR_ADMIN but os-resetState's ADMIN, checked
 * after the server is found), so each is walked as the reader and as another project's member.
 */
const ACTION_BODIES: Record<string, unknown> = {
  'os-getConsoleOutput': { 'os-getConsoleOutput': { length: 10 } },
  rescue: { rescue: {} }, unrescue: { unrescue: null },
  createImage: { createImage: { name: 'snapshot' } },
  createBackup: { createBackup: { name: 'backup', backup_type: 'daily', rotation: 1 } },
  trigger_crash_dump: { trigger_crash_dump: null },
  changePassword: { changePassword: { adminPass: 'a-new-password' } },
  'os-start': { 'os-start': null }, 'os-stop': { 'os-stop': null },
  pause: { pause: null }, unpause: { unpause: null }, suspend: { suspend: null }, resume: { resume: null },
  shelve: { shelve: null }, shelveOffload: { shelveOffload: null }, unshelve: { unshelve: null },
  lock: { lock: null }, unlock: { unlock: null },
  rebuild: { rebuild: { imageRef: IMAGE } }, resize: { resize: { flavorRef: '2' } },
  confirmResize: { confirmResize: null }, revertResize: { revertResize: null },
  reboot: { reboot: { type: 'HARD' } }, 'os-resetState': { 'os-resetState': { state: 'active' } },
  migrate: { migrate: null }, 'os-migrateLive': { 'os-migrateLive': { host: null, block_migration: 'auto' } }, evacuate: { evacuate: {} },
};

interface Fixture {
  readonly serverId: string;
  /** An image of the owning project for Nova's image proxy to delete (the walk deletes the other last). */
  readonly spareImageId: string;
  /** Available volumes of the owning project: for Nova's attach, Cinder's delete and Cinder's extend. */
  readonly spareVolumes: { readonly attach: string; readonly delete: string; readonly extend: string };
  /** Neutron resources of the owning project that a delete may take (no port on them, not in use), and a port for Nova's attach. */
  readonly spareNetwork: { readonly network: string; readonly subnet: string; readonly group: string; readonly novaGroup: string; readonly port: string };
  /** What the owning project put on its server: nobody else may see any of it. */
  readonly secrets: readonly string[];
  /** Path parameters: for reads, and for writes (a flavor of the test's own, not a built-in one). */
  readonly values: Record<string, string>;
  readonly writeValues: Record<string, string>;
}

/** A valid body for each route that takes one: a refusal must be the policy's or the project's, not the body's. */
function sampleBody(route: ApiRoute, f: Fixture, uniq: string): unknown {
  if (!route.body) return undefined;
  const samples: Record<string, unknown> = {
    'POST /v2.1/servers': { server: { name: `made-${uniq}`, flavorRef: '1', imageRef: IMAGE, networks: 'none' } },
    'PUT /v2.1/servers/{server_id}': { server: { name: `renamed-${uniq}` } },
    'POST /v2.1/servers/{server_id}/action': { reboot: { type: 'SOFT' } },
    'POST /v2.1/servers/{server_id}/os-volume_attachments': { volumeAttachment: { volumeId: f.spareVolumes.attach } },
    'POST /v2.1/servers/{server_id}/os-interface': { interfaceAttachment: { port_id: f.spareNetwork.port } },
    'PUT /v2.1/servers/{server_id}/metadata': { metadata: { a: uniq } },
    'POST /v2.1/servers/{server_id}/metadata': { metadata: { b: uniq } },
    'PUT /v2.1/servers/{server_id}/metadata/{key}': { meta: { [f.values.key!]: uniq } },
    'PUT /v2.1/servers/{server_id}/tags': { tags: [`t-${uniq}`] },
    // Private: access to it can be added (a public flavor's is 409 from 2.7).
    'POST /v2.1/flavors': { flavor: { id: f.writeValues.flavor_id, name: `flavor-${uniq}`, ram: 512, vcpus: 1, disk: 1, 'os-flavor-access:is_public': false } },
    'PUT /v2.1/flavors/{flavor_id}': { flavor: { description: uniq } },
    'POST /v2.1/flavors/{flavor_id}/os-extra_specs': { extra_specs: { [f.values.key!]: uniq } },
    'PUT /v2.1/flavors/{flavor_id}/os-extra_specs/{key}': { [f.values.key!]: uniq },
    'POST /v2.1/flavors/{flavor_id}/action': { addTenantAccess: { tenant: `t-${uniq}` } },
    'PUT /v2.1/os-quota-sets/{quota_project_id}': { quota_set: { instances: 20 } },
    'PUT /v2.1/os-quota-class-sets/{quota_project_id}': { quota_class_set: { instances: 10 } },
    'POST /v2.1/os-keypairs': { keypair: { name: f.values.keypair_name } },
    'POST /image/v2/images': { name: `image-${uniq}` },
    'POST /volume/v3/{project_id}/volumes': { volume: { size: 1, name: `volume-${uniq}` } },
    'PUT /volume/v3/{project_id}/volumes/{volume_id}': { volume: { description: uniq } },
    'POST /volume/v3/{project_id}/volumes/{volume_id}/action': { 'os-extend': { new_size: 2 } },
    'PATCH /image/v2/images/{image_id}': [{ op: 'replace', path: '/name', value: `renamed-${uniq}` }],
    'POST /v2.1/images/{image_id}/metadata': { metadata: { b: uniq } },
    'PUT /v2.1/images/{image_id}/metadata': { metadata: { a: uniq } },
    'PUT /v2.1/images/{image_id}/metadata/{key}': { meta: { [f.values.key!]: uniq } },
    'POST /v2.1/os-security-groups': { security_group: { name: `group-${uniq}`, description: uniq } },
    'POST /network/v2.0/networks': { network: { name: `net-${uniq}` } },
    'PUT /network/v2.0/networks/{network_id}': { network: { description: uniq } },
    'POST /network/v2.0/subnets': { subnet: { network_id: f.values.network_id, ip_version: 4, cidr: `172.${16 + (parseInt(uniq.slice(0, 2), 16) % 16)}.${parseInt(uniq.slice(2, 4), 16)}.0/24` } },
    'PUT /network/v2.0/subnets/{subnet_id}': { subnet: { description: uniq } },
    'POST /network/v2.0/ports': { port: { network_id: f.values.network_id, name: `port-${uniq}` } },
    'PUT /network/v2.0/ports/{port_id}': { port: { description: uniq } },
    'POST /network/v2.0/security-groups': { security_group: { name: `group-${uniq}` } },
    'PUT /network/v2.0/security-groups/{security_group_id}': { security_group: { description: uniq } },
    'POST /v2.1/os-server-groups': { server_group: { name: `group-${uniq}`, policy: 'anti-affinity' } },
    'POST /v2.1/os-aggregates': { aggregate: { name: `aggregate-${uniq}` } },
    'PUT /v2.1/os-aggregates/{aggregate_id}': { aggregate: { name: `renamed-${uniq}` } },
    'POST /v2.1/os-aggregates/{aggregate_id}/action': { set_metadata: { metadata: { [f.values.key!]: uniq } } },
    'POST /v2.1/servers/{server_id}/migrations/{migration_id}/action': { force_complete: null },
    // The host ends as it began: enabled, not forced down.
    'PUT /v2.1/os-services/enable': { host: f.values.host_name, binary: 'nova-compute' },
    'PUT /v2.1/os-services/disable': { host: f.values.host_name, binary: 'nova-compute' },
    'PUT /v2.1/os-services/disable-log-reason': { host: f.values.host_name, binary: 'nova-compute', disabled_reason: uniq },
    'PUT /v2.1/os-services/force-down': { host: f.values.host_name, binary: 'nova-compute', forced_down: false },
    'PUT /v2.1/os-services/{service_id}': { status: 'enabled' },
    'PUT /v2.1/os-hosts/{host_name}': { status: 'enable' },
    'POST /v2.1/os-server-external-events': { events: [{ name: 'network-changed', server_uuid: f.serverId }] },
    'POST /network/v2.0/security-group-rules': {
      security_group_rule: { security_group_id: f.values.security_group_id, direction: 'ingress', protocol: 'tcp', port_range_min: 1024 + parseInt(uniq.slice(0, 4), 16) % 60000, port_range_max: 1024 + parseInt(uniq.slice(0, 4), 16) % 60000 },
    },
  };
  if (!Object.hasOwn(samples, name(route))) throw new Error(`${name(route)} takes a body: give it a valid sample in rolesAndProjects.test.ts`);
  return samples[name(route)];
}

function pathOf(route: ApiRoute, values: Record<string, string>): string {
  return route.path.replace(/\{(\w+)\}/g, (_m, param: string) => {
    if (!Object.hasOwn(values, param)) throw new Error(`${name(route)}: no value for {${param}}: add one to the fixture in rolesAndProjects.test.ts`);
    return encodeURIComponent(values[param]!);
  }).replace(/^\/v2\.1/, '');
}

/**
 * Headers a route needs besides the caller's: the image proxy's last microversion; for Glance,
 * JSON errors (its bodies follow the Accept header) and its patch media type.
 */
const routeHeaders = (route: ApiRoute): Record<string, string> => ({
  ...(isImageProxy(route) || isNetworkProxy(route) ? { 'OpenStack-API-Version': 'compute 2.35' } : {}),
  ...(Object.hasOwn(LAST_SERVED, name(route)) ? { 'OpenStack-API-Version': `compute ${LAST_SERVED[name(route)]}` } : {}),
  ...(route.path.startsWith('/image/') ? { accept: 'application/json' } : {}),
  ...(route.method === 'PATCH' && route.path.startsWith('/image/') ? { 'content-type': 'application/openstack-images-v2.1-json-patch' } : {}),
});

const call = (nova: Nova, route: ApiRoute, f: Fixture, uniq = 'x') => {
  // Other services' routes are not under /v2.1: called from the API's root.
  const client = route.path.startsWith('/v2.1') ? nova : new Nova(nova.baseUrl.replace(/\/v2\.1$/, ''), nova.token, nova.defaultHeaders);
  const values = {
    ...(isWrite(route) ? f.writeValues : f.values),
    ...(name(route) === 'DELETE /v2.1/images/{image_id}' ? { image_id: f.spareImageId } : {}),
    // Cinder deletes and extends only an available volume: not the one attached to the server.
    ...(name(route) === 'DELETE /volume/v3/{project_id}/volumes/{volume_id}' ? { volume_id: f.spareVolumes.delete } : {}),
    ...(name(route) === 'POST /volume/v3/{project_id}/volumes/{volume_id}/action' ? { volume_id: f.spareVolumes.extend } : {}),
    // Neutron deletes only what nothing uses: a network without ports, a subnet without addresses, a group no port names.
    ...(name(route) === 'DELETE /network/v2.0/networks/{network_id}' ? { network_id: f.spareNetwork.network } : {}),
    ...(name(route) === 'DELETE /network/v2.0/subnets/{subnet_id}' ? { subnet_id: f.spareNetwork.subnet } : {}),
    ...(name(route) === 'DELETE /network/v2.0/security-groups/{security_group_id}' ? { security_group_id: f.spareNetwork.group } : {}),
    ...(name(route) === 'DELETE /v2.1/os-security-groups/{security_group_id}' ? { security_group_id: f.spareNetwork.novaGroup } : {}),
    // Before 2.53 a hypervisor is found by a pattern of its hostname.
    ...(LAST_SERVED[name(route)] === '2.52' ? { hypervisor_id: f.values.host_name } : {}),
  };
  return client.request(route.method, pathOf(route, values) + (QUERY[name(route)] ?? ''), sampleBody(route, f, uniq), routeHeaders(route));
};

async function tableItems(runtime: Runtime): Promise<unknown[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await runtime.table.db.send(new ScanCommand({ TableName: runtime.table.name, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
}

/** The owning project's server, with a volume, a port, metadata, a tag and an instance action on it. */
async function makeFixture(owner: Nova, admin: Nova): Promise<Fixture> {
  const uniq = crypto.randomUUID().slice(0, 8);
  const secrets = { name: `secret-name-${uniq}`, meta: `secret-meta-${uniq}`, tag: `secret-tag-${uniq}` };
  const serverId = await owner.createServer(secrets.name);
  await owner.waitIdle(serverId);
  // Volumes are Cinder's: made through its API before Nova attaches one.
  const cinder = new Cinder(owner.baseUrl.replace(/\/v2\.1$/, ''), owner.token, OWNER_PROJECT);
  const [volumeId, attach, del, extend] = [await cinder.create(), await cinder.create(), await cinder.create(), await cinder.create()];
  // Ports are Neutron's: made through its API before Nova binds one; a network, subnets and groups of the project's own.
  const net = neutron(owner);
  const made = async (path: string, resource: string, body: Record<string, unknown>) => {
    const res = await net.post(path, { [resource]: body });
    expect([path, res.status]).toEqual([path, 201]);
    return res.body[resource].id as string;
  };
  const networkId = await made('/networks', 'network', { name: `net-${uniq}` });
  const subnetId = await made('/subnets', 'subnet', { network_id: networkId, ip_version: 4, cidr: '192.168.77.0/24' });
  const groupId = await made('/security-groups', 'security_group', { name: `group-${uniq}` });
  const ruleId = await made('/security-group-rules', 'security_group_rule', { security_group_id: groupId, direction: 'ingress', protocol: 'udp' });
  const spareNetwork = {
    network: await made('/networks', 'network', { name: `spare-${uniq}` }),
    subnet: await made('/subnets', 'subnet', { network_id: networkId, ip_version: 4, cidr: '192.168.78.0/24' }),
    group: await made('/security-groups', 'security_group', { name: `spare-${uniq}` }),
    novaGroup: await made('/security-groups', 'security_group', { name: `nova-spare-${uniq}` }),
    port: await makePort(owner),
  };
  const portId = await makePort(owner);
  expect((await owner.post(`/servers/${serverId}/os-volume_attachments`, { volumeAttachment: { volumeId } })).status).toBe(200);
  await owner.waitIdle(serverId);
  expect((await owner.post(`/servers/${serverId}/os-interface`, { interfaceAttachment: { port_id: portId } })).status).toBe(200);
  await owner.waitIdle(serverId);
  expect((await owner.post(`/servers/${serverId}/metadata`, { metadata: { secret: secrets.meta } })).status).toBe(200);
  expect((await owner.request('PUT', `/servers/${serverId}/tags/${secrets.tag}`)).status).toBe(201);
  // An image of the project, with a tag and the metadata (custom property) the proxy reads.
  const glance = new Nova(`${owner.baseUrl.replace(/\/v2\.1$/, '')}/image/v2`, owner.token);
  const image = await glance.post('/images', { name: `image-${uniq}`, tags: [secrets.tag], secret: secrets.meta });
  const spare = await glance.post('/images', { name: `spare-${uniq}` });
  expect([image.status, spare.status]).toEqual([201, 201]);
  const actions = (await owner.get(`/servers/${serverId}/os-instance-actions`)).body.instanceActions;
  const addresses = (await owner.get(`/servers/${serverId}/ips`)).body.addresses as Record<string, unknown>;
  const group = await owner.post('/os-server-groups', { server_group: { name: `group-${uniq}`, policy: 'affinity' } });
  // The hosts, their services and aggregates are the administrator's.
  const hypervisor = (await admin.get('/os-hypervisors')).body.hypervisors[0];
  const service = (await admin.get('/os-services')).body.services.find((s: { host: string }) => s.host === hypervisor.hypervisor_hostname);
  const aggregate = await admin.post('/os-aggregates', { aggregate: { name: `aggregate-${uniq}` } });
  expect([group.status, aggregate.status, typeof hypervisor.id, typeof service.id]).toEqual([200, 200, 'string', 'string']);
  const values = {
    server_id: serverId, volume_id: volumeId, port_id: portId, request_id: actions[0].request_id,
    network_label: Object.keys(addresses)[0] ?? 'private', key: 'secret', tag: secrets.tag,
    flavor_id: '1', keypair_name: `kp-${uniq}`, image_id: image.body.id, tag_value: secrets.tag,
    project_id: OWNER_PROJECT, quota_project_id: OWNER_PROJECT, type_id: 'default',
    network_id: networkId, subnet_id: subnetId, security_group_id: groupId, security_group_rule_id: ruleId, alias: 'security-group',
    group_id: group.body.server_group.id, hypervisor_id: hypervisor.id, host_name: hypervisor.hypervisor_hostname, service_id: service.id,
    aggregate_id: String(aggregate.body.aggregate.id), before_timestamp: '2030-01-01 00:00:00', migration_id: '1',
  };
  return {
    serverId, spareImageId: spare.body.id, spareVolumes: { attach, delete: del, extend }, spareNetwork, secrets: Object.values(secrets), values, writeValues: { ...values, flavor_id: `rp-${uniq}` },
  };
}

interface Callers {
  /** A member of the owning project: makes the server, and reads as the reference for the others. */
  readonly owner: Nova;
  /** A reader of the owning project (JWT mode only: noauth has no roles but member and admin). */
  readonly reader?: Nova;
  readonly otherMember: Nova;
  /** An administrator of another project. */
  readonly admin: Nova;
}

interface Mode {
  readonly name: string;
  readonly hasReaders: boolean;
  start(): Promise<{ runtime: Runtime; callers(root: string): Promise<Callers>; stop(): Promise<void> }>;
}

const noauth: Mode = {
  name: 'noauth',
  hasReaders: false,
  async start() {
    const runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
    return {
      runtime,
      callers: async (root) => ({
        owner: new Nova(root, 'owner:proj-a', { 'OpenStack-API-Version': VERSION }),
        otherMember: new Nova(root, 'other:proj-b', { 'OpenStack-API-Version': VERSION }),
        admin: new Nova(root, 'admin:admin-proj', { 'OpenStack-API-Version': VERSION }),
      }),
      stop: () => runtime.stop(),
    };
  },
};

const jwt: Mode = {
  name: 'JWT',
  hasReaders: true,
  async start() {
    const ISSUER = 'https://issuer.example.test/pool';
    const AUDIENCE = 'taskgate-client';
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwks: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const runtime = await startRuntime({
      port: 0, driver: { stepMs: 0 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
      identity: new JwtIdentityProvider({
        issuer: ISSUER, audience: AUDIENCE, audienceClaim: 'aud',
        jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
        projectClaim: 'custom:project', rolesClaim: 'cognito:groups', userClaim: 'sub', algorithms: ['RS256'], clockToleranceSeconds: 0,
      }),
    });
    const token = (sub: string, project: string, roles: string[]) => new SignJWT({ 'custom:project': project, 'cognito:groups': roles })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(sub)
      .setIssuedAt().setExpirationTime('30m').sign(privateKey);
    const as = async (root: string, sub: string, project: string, roles: string[]) =>
      new Nova(root, await token(sub, project, roles), { 'OpenStack-API-Version': VERSION });
    return {
      runtime,
      callers: async (root) => ({
        owner: await as(root, 'owner', 'proj-a', ['member', 'reader']),
        reader: await as(root, 'reader', 'proj-a', ['reader']),
        otherMember: await as(root, 'other', 'proj-b', ['member', 'reader']),
        admin: await as(root, 'admin', 'admin-proj', ['admin', 'member', 'reader']),
      }),
      async stop() {
        await runtime.stop();
        await new Promise((resolve) => jwks.close(resolve));
      },
    };
  },
};

it('walks the registered routes: reads and writes, routes naming a server among them', () => {
  expect(ROUTES.filter(isWrite).length).toBeGreaterThan(15);
  expect(ROUTES.filter((r) => !isWrite(r)).length).toBeGreaterThan(15);
  expect(ROUTES.map(name)).toEqual(expect.arrayContaining([
    'GET /v2.1/servers/{server_id}/os-instance-actions', 'GET /v2.1/servers/{server_id}/os-instance-actions/{request_id}',
    'DELETE /v2.1/servers/{server_id}',
  ]));
});

describe.each([jwt, noauth])('$name mode', (mode) => {
  let stack: Awaited<ReturnType<Mode['start']>>;
  let who: Callers;
  let f: Fixture;

  beforeAll(async () => {
    stack = await mode.start();
    // Nova clients' routes start at /v2.1; version discovery (public) is not walked.
    who = await stack.callers(stack.runtime.apiUrl);
    f = await makeFixture(who.owner, who.admin);
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  // Only JWT mode has readers: noauth's callers are members, and `admin` the administrator.
  const readerIt = mode.hasReaders ? it : () => undefined;

  readerIt('a reader of the owning project is allowed every read, and sees what a member sees', async () => {
    for (const route of ROUTES.filter((r) => !isWrite(r))) {
      const [asReader, asOwner] = [await call(who.reader!, route, f), await call(who.owner, route, f)];
      if (ADMIN_READS.includes(name(route))) {
        expect([name(route), asReader.status, asOwner.status]).toEqual([name(route), 403, 403]);
        continue;
      }
      if (MEMBER_READS.includes(name(route))) {
        expect([name(route), asReader.status, asReader.body]).toEqual([name(route), 403, refused(route)]);
        continue;
      }
      expect([name(route), asReader.status]).toEqual([name(route), asOwner.status]);
      if (!USER_OWNED(route)) expect([name(route), asReader.body]).toEqual([name(route), asOwner.body]);
      expect([name(route), asReader.status < 400 || asReader.status === 404]).toEqual([name(route), true]);
    }
  });

  readerIt('a reader of the owning project is refused every write with its service\'s 403, and nothing is written', async () => {
    const before = await tableItems(stack.runtime);
    for (const route of ROUTES.filter((r) => isWrite(r) && !USER_OWNED(r))) {
      const res = await call(who.reader!, route, f);
      expect([name(route), res.status, res.body]).toEqual([name(route), 403, refused(route)]);
    }
    expect(await tableItems(stack.runtime)).toEqual(before);
    // Its own key pairs are a user's, reader or not (Nova: admin or owner).
    for (const route of ROUTES.filter((r) => isWrite(r) && USER_OWNED(r))) {
      const res = await call(who.reader!, route, f);
      expect([name(route), res.status, route.doc.success.includes(res.status)]).toEqual([name(route), res.status, true]);
    }
  });

  it('a member of another project gets 404 for every route naming the server, with none of its data, and nothing changes', async () => {
    const before = await tableItems(stack.runtime);
    const naming = ROUTES.filter(namesServer);
    expect(naming.length).toBeGreaterThan(20);
    for (const route of naming) {
      const res = await call(who.otherMember, route, f);
      expect([name(route), res.status, Object.keys(res.body ?? {})]).toEqual([name(route), 404, ['itemNotFound']]);
      const seen = JSON.stringify(res.body);
      expect([name(route), f.secrets.filter((s) => seen.includes(s))]).toEqual([name(route), []]);
    }
    for (const path of ['/servers', '/servers/detail', `/servers/detail?name=${f.secrets[0]}`]) {
      const listed = await who.otherMember.get(path);
      expect([path, listed.status]).toEqual([path, 200]);
      expect([path, [f.serverId, ...f.secrets].filter((s) => JSON.stringify(listed.body).includes(s))]).toEqual([path, []]);
    }
    expect(await tableItems(stack.runtime)).toEqual(before);
  });

  readerIt('a reader of the owning project is refused every server action with Nova\'s 403, and nothing is written', async () => {
    const route = ROUTES.find((r) => name(r) === 'POST /v2.1/servers/{server_id}/action')!;
    const before = await tableItems(stack.runtime);
    for (const [action, body] of Object.entries(ACTION_BODIES)) {
      const res = await who.reader!.post(`/servers/${f.serverId}/action`, body);
      expect([action, res.status, res.body]).toEqual([action, 403, refused(route)]);
    }
    expect(await tableItems(stack.runtime)).toEqual(before);
  });

  it('a member of another project gets 404 for every server action, with none of its data, and nothing changes', async () => {
    const before = await tableItems(stack.runtime);
    for (const [action, body] of Object.entries(ACTION_BODIES)) {
      const res = await who.otherMember.post(`/servers/${f.serverId}/action`, body);
      expect([action, res.status, Object.keys(res.body ?? {})]).toEqual([action, 404, ['itemNotFound']]);
      expect([action, f.secrets.filter((s) => JSON.stringify(res.body).includes(s))]).toEqual([action, []]);
    }
    expect(await tableItems(stack.runtime)).toEqual(before);
  });

  it('an administrator of another project passes every route: reads as the owner reads, writes succeed', async () => {
    for (const route of ROUTES.filter((r) => !isWrite(r))) {
      const [asAdmin, asOwner] = [await call(who.admin, route, f), await call(who.owner, route, f)];
      const expected = [PUBLIC_FLAVOR_ACCESS, NO_LIVE_MIGRATION].includes(name(route)) ? 404 : NOT_IMPLEMENTED.includes(name(route)) ? 501
        : ADMIN_READS.includes(name(route)) ? 200 : asOwner.status;
      expect([name(route), asAdmin.status]).toEqual([name(route), expected]);
    }
    // Every write, the server's deletion last; each on an idle server, as a client would.
    const writes = ROUTES.filter(isWrite);
    // The flavor's deletion after its extra specs' and access's writes.
    const last = writes.filter((r) => r.method === 'DELETE' && ['/v2.1/flavors/{flavor_id}', '/v2.1/os-aggregates/{aggregate_id}', '/v2.1/servers/{server_id}', '/image/v2/images/{image_id}'].includes(r.path));
    for (const route of [...writes.filter((r) => !last.includes(r)), ...last]) {
      const res = await call(who.admin, route, f, crypto.randomUUID().slice(0, 8));
      if (NOT_IMPLEMENTED.includes(name(route))) {
        expect([name(route), res.status]).toEqual([name(route), 501]);
        continue;
      }
      if (NO_LIVE_MIGRATION_WRITES.includes(name(route))) {
        expect([name(route), res.status]).toEqual([name(route), 409]);
        continue;
      }
      expect([name(route), res.status, route.doc.success.includes(res.status) ? 'success' : res.body])
        .toEqual([name(route), res.status, 'success']);
      if (namesServer(route)) await who.admin.waitIdle(f.serverId);
    }
    await who.owner.waitGone(f.serverId);
  });
});
