import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_VERSION, MIN_VERSION, versionString } from '../../functions/api/apiVersion.js';
import { VOLUME_MAX_VERSION, VOLUME_MIN_VERSION } from '../../functions/api/volumes/microversion.js';
import { PUBLIC_NETWORK_ID } from '../../functions/core/networks/defaults.js';
import { identityConfig } from '../../functions/core/shared/config.js';
import { identityProvider } from '../../functions/core/identity/fromConfig.js';
import { seedHosts } from '../../functions/core/placement/hosts.js';
import { startRuntime } from '../../local/runtime.js';
import { keystoneInstalled, keystoneModeSettings, startKeystone } from '../keystone/harness.js';

// `npm run test:tempest`: OpenStack's own Nova test suite (Tempest 33, Debian's python3-tempest)
// against taskgate on its local runtime in Keystone mode: a real Keystone (scripts/keystone) issues
// the tokens and taskgate validates them with its service user, as `npm start` does when
// TASKGATE_AUTH_MODE=keystone.
// It writes tempest.conf and static accounts into a temporary workspace (taskgate's Glance, Cinder
// and Neutron available, with the features each serves; the microversion ranges served), runs the modules of include.txt
// minus the tests of exclude.txt with stestr, prints Tempest's own counts and skip reasons, and
// fails if any test failed.
//   TEMPEST_CONCURRENCY (default 2), TEMPEST_KEEP=1 keeps the workspace, TEMPEST_REGEX runs the
//   tests it matches instead of include.txt's (exclude.txt still applies): stestr adds a regex to
//   an include list rather than narrowing it.

const PYTHON = '/usr/bin/python3';
const here = fileURLToPath(new URL('./', import.meta.url));
const PROJECTS = ['tempest1', 'tempest2', 'tempest3', 'tempest4', 'tempest5', 'tempest6', 'tempest7', 'tempest8'];

const probe = spawnSync(PYTHON, ['-c', 'import tempest, stestr'], { encoding: 'utf8' });
if (probe.status !== 0 || !keystoneInstalled()) {
  console.error('Tempest needs Debian\'s python3-tempest (with stestr) and python3-keystone:\n'
    + '  apt-get install -y python3-tempest python3-keystone\n' + (probe.stderr ?? ''));
  process.exit(2);
}

const keystone = await startKeystone({ projects: PROJECTS });
const identity = identityProvider(identityConfig(keystoneModeSettings(keystone)));
const runtime = await startRuntime({
  port: 0, driver: { stepMs: 50 }, identity, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
});
await keystone.registerCompute(runtime.apiUrl);
// Two compute hosts, as a two-node DevStack has: Tempest's os-hosts list wants at least two, and
// its multinode and migration tests a host to move to. Each holds far more than a run builds.
const HOSTS = [
  { name: 'compute1', zone: 'nova', vcpus: 2048, ram: 8 * 1024 * 1024, disk: 512 * 1024 },
  { name: 'compute2', zone: 'nova', vcpus: 2048, ram: 8 * 1024 * 1024, disk: 512 * 1024 },
];
await seedHosts(runtime.table, HOSTS);

const ws = mkdtempSync(join(tmpdir(), 'taskgate-tempest-'));
mkdirSync(join(ws, 'etc'));
mkdirSync(join(ws, 'logs'));
const account = (user: string, project: string, types?: string) => `- username: ${user}
  project_name: ${project}
  password: ${keystone.users[user]!.password}
  domain_name: Default
${types ? `  types: [${types}]\n` : ''}`;
// Tempest's static accounts are locked per test class and never waited for: a class that finds
// every account of the kind it needs taken fails at set-up ("Insufficient number of users
// provided"). So there are as many administrators as members: one of each per project.
writeFileSync(join(ws, 'etc', 'accounts.yaml'), [
  ...PROJECTS.map((p) => account(`${p}-member`, p)),
  ...PROJECTS.map((p) => account(`${p}-admin`, p, 'admin')),
].join(''));
writeFileSync(join(ws, 'etc', 'tempest.conf'), `[DEFAULT]
log_dir = ${ws}/logs
log_file = tempest.log
[oslo_concurrency]
lock_path = ${ws}/locks
[auth]
use_dynamic_credentials = False
test_accounts_file = ${ws}/etc/accounts.yaml
default_credentials_domain_name = Default
create_isolated_networks = False
admin_role = admin
[identity]
uri_v3 = ${keystone.url}
auth_version = v3
region = ${keystone.region}
v3_endpoint_type = public
[identity-feature-enabled]
api_v2 = False
[compute]
image_ref = 70a599e0-31e7-49b7-b260-868f441e862b
image_ref_alt = 155d900f-4e14-4e4c-a73d-069cbf4541e6
flavor_ref = 1
flavor_ref_alt = 2
min_microversion = ${versionString(MIN_VERSION)}
max_microversion = ${versionString(MAX_VERSION)}
region = ${keystone.region}
endpoint_type = publicURL
build_timeout = 60
build_interval = 1
min_compute_nodes = ${HOSTS.length}
# taskgate keeps a shelved server until it is offloaded explicitly (Nova with -1).
shelved_offload_time = -1
# The shared network every project's servers are built on (Tempest's create_test_server asks
# Neutron for it by name, as a user's --network private).
fixed_network_name = private
[compute-feature-enabled]
# Tempest gates its writable server-metadata tests behind this flag (with os-agents and
# resetNetwork, which the modules run here do not touch); taskgate's server metadata is writable.
xenapi_apis = True
resize = True
shelve = True
pause = True
suspend = True
disk_config = True
enable_instance_password = True
# The simulated guest's console (built from what happened to the server), its password set by
# the guest agent, and snapshots and backups into taskgate's Glance; rescue and unrescue.
console_output = True
change_password = True
snapshot = True
rescue = True
# Moving servers between the two hosts (docs/placement.md): migrate with confirm and revert,
# os-migrateLive, block migration or not (a simulated server has no disk to copy).
live_migration = True
cold_migration = True
block_migration_for_live_migration = True
# Not served by taskgate (its README says which actions and why):
vnc_console = False
spice_console = False
serial_console = False
# Rescue onto a stable device (2.87's hw_rescue_bus), the IDE bus: not served.
stable_rescue = False
# Ports from taskgate's Neutron, attached and detached through os-interface.
interface_attach = True
attach_encrypted_volume = False
volume_multiattach = False
metadata_service = False
config_drive = False
personality = False
[service_available]
nova = True
glance = True
cinder = True
neutron = True
swift = False
[validation]
run_validation = False
[image]
build_timeout = 60
[image-feature-enabled]
# No image data: no import, no upload (README, Images).
import_image = False
api_v2 = True
api_v1 = False
[volume]
catalog_type = volumev3
min_microversion = ${versionString(VOLUME_MIN_VERSION)}
max_microversion = ${versionString(VOLUME_MAX_VERSION)}
volume_size = 1
build_timeout = 60
region = ${keystone.region}
[volume-feature-enabled]
# Not served by taskgate's Cinder (README, Volumes): snapshots, backups, clones, manage.
backup = False
snapshot = False
clone = False
manage_volume = False
manage_snapshot = False
extend_attached_volume = False
# taskgate's Cinder serves no /extensions listing.
api_extensions =
[network]
# No routers, floating IPs or project networks a test host could reach.
project_networks_reachable = False
public_network_id = ${PUBLIC_NETWORK_ID}
floating_network_name = public
build_timeout = 60
region = ${keystone.region}
[network-feature-enabled]
# What taskgate's /network/v2.0/extensions answers (functions/api/networks/extensions.ts).
api_extensions = security-group,port-security,external-net,binding,standard-attr-description,standard-attr-timestamp,standard-attr-revisions,project-id,net-mtu,filter-validation,stateful-security-group
floating_ips = False
ipv6 = False
port_security = True
`);
writeFileSync(join(ws, '.stestr.conf'), '[DEFAULT]\ntest_path=/usr/lib/python3/dist-packages/tempest/test_discover\ntop_dir=/usr/lib/python3/dist-packages\n');

let status = 1;
try {
  const env = { ...process.env, TEMPEST_CONFIG_DIR: join(ws, 'etc'), OS_TEST_TIMEOUT: '300' };
  spawnSync(PYTHON, ['-m', 'stestr', 'init'], { cwd: ws, stdio: 'ignore', env });
  // Asynchronously: taskgate and the shim run in this process and must keep serving meanwhile.
  const child = spawn(PYTHON, [
    '-m', 'stestr', 'run', '--concurrency', process.env.TEMPEST_CONCURRENCY ?? '2',
    ...(process.env.TEMPEST_REGEX ? [process.env.TEMPEST_REGEX] : ['--include-list', join(here, 'include.txt')]),
    '--exclude-list', join(here, 'exclude.txt'),
  ], { cwd: ws, env });
  let out = '';
  // Progress: one line per finished test, whole (a chunk may end mid-line: its rest waits for the next).
  const collector = () => {
    let pending = '';
    return (chunk: Buffer) => {
      const text = chunk.toString();
      out += text;
      const lines = (pending + text).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (/ \.\.\. (ok|FAILED|SKIPPED)/.test(line)) console.log(line.replace(/^\{\d+\} /, '').slice(0, 200));
    };
  };
  child.stdout.on('data', collector());
  child.stderr.on('data', collector());
  const run = { status: await new Promise<number | null>((resolve) => child.on('close', resolve)) };
  writeFileSync(join(ws, 'stestr-run.log'), out);
  // Tempest's own summary, and every skip by its reason.
  const summary = /={6}\nTotals\n={6}\n([\s\S]*?)\n\n/.exec(out)?.[1];
  const failed = [...out.matchAll(/^\{\d+\} (\S+).* \.\.\. FAILED$/gm)].map((m) => m[1]);
  const skips = new Map<string, number>();
  for (const m of out.matchAll(/ \.\.\. SKIPPED: (.*)$/gm)) skips.set(m[1]!, (skips.get(m[1]!) ?? 0) + 1);
  console.log(failed.length ? `\nFailed:\n${failed.map((f) => `  ${f}`).join('\n')}` : '');
  console.log(`\nSkipped, by Tempest's reason:\n${[...skips].sort((a, b) => b[1] - a[1]).map(([r, n]) => `  ${n}  ${r}`).join('\n')}`);
  console.log(`\nTempest (microversions ${versionString(MIN_VERSION)} to ${versionString(MAX_VERSION)}):\n${summary ?? out.slice(-3000)}`);
  status = run.status ?? 1;
  if (status !== 0 && !summary) console.log(readFileSync(join(ws, 'stestr-run.log'), 'utf8').slice(-5000));
} finally {
  await runtime.stop();
  await keystone.stop();
  if (process.env.TEMPEST_KEEP === '1') console.log(`workspace kept: ${ws}`); else rmSync(ws, { recursive: true, force: true });
}
process.exit(status === 0 ? 0 : 1);
