import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

// A real Keystone 22 (Debian's python3-keystone) for tests and for trying the identity modes by
// hand: SQLite in a temporary directory, fernet tokens, `keystone-wsgi-public` on 127.0.0.1. It
// knows nothing of taskgate's code; it only registers a compute endpoint in the catalog so that
// OpenStack clients find taskgate as they would find Nova.

export interface KeystoneOptions {
  /** Port for keystone-wsgi-public; 0 (default) picks a free one. */
  readonly port?: number;
  /** Projects to create; each gets `<project>-member`, `<project>-reader` and `<project>-admin`. */
  readonly projects?: readonly string[];
  /** The password of every user the harness creates (and of Keystone's bootstrap admin). */
  readonly password?: string;
  /** The compute endpoint to register in the catalog (e.g. http://127.0.0.1:8774/v2.1). */
  readonly computeUrl?: string;
  /** Seconds a token lives ([token] expiration). */
  readonly tokenExpirationSeconds?: number;
  /** Keystone's own log: 'inherit' shows it on this process's stdout/stderr; default: discarded. */
  readonly log?: 'inherit' | 'discard';
}

export interface KeystoneUser {
  readonly name: string;
  readonly id: string;
  readonly password: string;
  readonly project: string;
  readonly projectId: string;
  readonly roles: readonly string[];
}

export interface Keystone {
  /** Identity v3 base, e.g. http://127.0.0.1:5000/v3 */
  readonly url: string;
  /** The auth URL clients use (without /v3; keystoneauth discovers the version). */
  readonly authUrl: string;
  readonly dir: string;
  readonly region: string;
  readonly projects: Readonly<Record<string, string>>; // name -> id
  /** Users by name: `<project>-member|reader|admin`, `admin` (bootstrap) and `taskgate` (the service user). */
  readonly users: Readonly<Record<string, KeystoneUser>>;
  /** The service user taskgate validates tokens with (project `service`, role `service`). */
  readonly service: KeystoneUser;
  /** A project-scoped token for a user, by password. */
  token(user: string, project?: string): Promise<{ token: string; body: TokenBody }>;
  /** Registers (or re-points) the compute endpoint (`<base>/v2.1`) in the catalog, and the image one beside it (`<base>/image`). */
  registerCompute(url: string): Promise<void>;
  /** A clouds.yaml text with one cloud per user, named after it. */
  cloudsYaml(): string;
  /** Calls the v3 API as the bootstrap admin. */
  admin(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  stop(): Promise<void>;
}

export interface TokenBody {
  readonly token: {
    readonly expires_at: string;
    readonly user: { readonly id: string; readonly name: string };
    readonly project?: { readonly id: string; readonly name: string };
    readonly roles?: readonly { readonly id: string; readonly name: string }[];
  };
}

const REGION = 'RegionOne';
const DEFAULT_PROJECTS = ['alpha', 'beta'] as const;
const ROLES = ['member', 'reader', 'admin'] as const;

export function keystoneInstalled(): boolean {
  return spawnSync('keystone-manage', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function keystoneConf(dir: string, expiration: number): string {
  return `[DEFAULT]
use_stderr = true
[database]
connection = sqlite:///${dir}/keystone.db
[token]
provider = fernet
expiration = ${expiration}
[fernet_tokens]
key_repository = ${dir}/fernet-keys
[fernet_receipts]
key_repository = ${dir}/fernet-keys
[credential]
key_repository = ${dir}/credential-keys
[cache]
# An in-process cache: without it one token validation runs ~450 SQL queries (seconds on a busy
# machine). Keystone invalidates its own caches when a token is revoked.
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt's fewest rounds: creating a user otherwise takes seconds on a small machine (test passwords only).
password_hash_rounds = 4
`;
}

function manage(conf: string, args: readonly string[]): void {
  const run = spawnSync('keystone-manage', ['--config-file', conf, ...args], { encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`keystone-manage ${args[0]} failed (${run.status}): ${(run.stderr || run.stdout).slice(-2000)}`);
  }
}

async function waitUntilServing(url: string, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`keystone-wsgi-public exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Keystone did not answer on ${url} within ${deadlineMs} ms`);
}

/** Starts Keystone, creates the projects, users, roles and the compute endpoint; ~30 s. */
export async function startKeystone(options: KeystoneOptions = {}): Promise<Keystone> {
  if (!keystoneInstalled()) {
    throw new Error('keystone-manage not found: install Debian\'s python3-keystone (apt-get install python3-keystone)');
  }
  const password = options.password ?? 'secret-pass';
  const port = options.port || await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskgate-keystone-'));
  const conf = join(dir, 'keystone.conf');
  writeFileSync(conf, keystoneConf(dir, options.tokenExpirationSeconds ?? 3600));
  const base = `http://127.0.0.1:${port}`;
  const { username } = userInfo();
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim() || username;

  manage(conf, ['db_sync']);
  // WAL: a read transaction Keystone leaves open must not lock out the next request's write
  // (with SQLite's default journal the bootstrap admin's first POST fails with 'database is locked').
  const wal = spawnSync('python3', ['-c', 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal")', join(dir, 'keystone.db')]);
  if (wal.status !== 0) throw new Error(`could not switch Keystone's SQLite database to WAL: ${wal.stderr}`);
  manage(conf, ['fernet_setup', '--keystone-user', username, '--keystone-group', group]);
  manage(conf, ['credential_setup', '--keystone-user', username, '--keystone-group', group]);
  manage(conf, ['bootstrap', '--bootstrap-password', password, '--bootstrap-username', 'admin',
    '--bootstrap-project-name', 'admin', '--bootstrap-role-name', 'admin',
    '--bootstrap-service-name', 'keystone', '--bootstrap-region-id', REGION,
    '--bootstrap-public-url', `${base}/v3`]);

  const child = spawn('keystone-wsgi-public', ['--host', '127.0.0.1', '--port', String(port)], {
    env: { ...process.env, OS_KEYSTONE_CONFIG_FILES: conf },
    stdio: options.log === 'inherit' ? 'inherit' : ['ignore', 'ignore', 'ignore'],
    detached: false,
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(`${base}/v3`, child, 60_000);
    return await provision({ base, dir, password, child, stop, projectNames: options.projects ?? DEFAULT_PROJECTS, computeUrl: options.computeUrl });
  } catch (err) {
    await stop();
    throw err;
  }
}

async function passwordToken(base: string, user: string, password: string, project: string): Promise<{ token: string; body: TokenBody }> {
  const res = await fetch(`${base}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
      scope: { project: { name: project, domain: { id: 'default' } } },
    } }),
  });
  if (res.status !== 201) throw new Error(`token for ${user} on ${project}: ${res.status} ${await res.text()}`);
  return { token: res.headers.get('x-subject-token')!, body: await res.json() as TokenBody };
}

interface ProvisionArgs {
  base: string; dir: string; password: string; child: ChildProcess; stop: () => Promise<void>;
  projectNames: readonly string[]; computeUrl?: string;
}

async function provision(args: ProvisionArgs): Promise<Keystone> {
  const { base, password } = args;
  let adminToken = (await passwordToken(base, 'admin', password, 'admin')).token;
  const admin = async (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => fetch(`${base}/v3${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'x-auth-token': adminToken, 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const create = async <T>(path: string, key: string, body: unknown): Promise<T> => {
    const res = await admin(path, { body: { [key]: body } });
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json() as Record<string, T>)[key]!;
  };
  const put = async (path: string) => {
    const res = await admin(path, { method: 'PUT' });
    if (res.status !== 204) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  };

  const roleIds: Record<string, string> = {};
  for (const role of (await (await admin('/roles')).json() as { roles: { id: string; name: string }[] }).roles) roleIds[role.name] = role.id;
  roleIds.service ??= (await create<{ id: string }>('/roles', 'role', { name: 'service' })).id;

  const projects: Record<string, string> = {};
  const adminProject = (await (await admin('/projects?name=admin')).json() as { projects: { id: string }[] }).projects[0]!;
  projects.admin = adminProject.id;
  for (const name of [...args.projectNames, 'service']) {
    projects[name] = (await create<{ id: string }>('/projects', 'project', { name, domain_id: 'default' })).id;
  }

  const users: Record<string, KeystoneUser> = {};
  const addUser = async (name: string, project: string, roles: readonly string[]) => {
    const { id } = await create<{ id: string }>('/users', 'user', { name, password, domain_id: 'default' });
    for (const role of roles) await put(`/projects/${projects[project]}/users/${id}/roles/${roleIds[role]}`);
    users[name] = { name, id, password, project, projectId: projects[project]!, roles };
  };
  for (const project of args.projectNames) {
    for (const role of ROLES) await addUser(`${project}-${role}`, project, [role]);
  }
  await addUser('taskgate', 'service', ['service']);
  const adminUser = (await (await admin('/users?name=admin')).json() as { users: { id: string }[] }).users[0]!;
  users.admin = { name: 'admin', id: adminUser.id, password, project: 'admin', projectId: projects.admin!, roles: ['admin'] };

  // compute is taskgate's Nova at the given URL (`<base>/v2.1`); image its Glance at `<base>/image`,
  // where clients find the images a server boots (openstack server create --image cirros);
  // volumev3 and block-storage its Cinder at `<base>/volume/v3/<project>` (openstack volume create).
  const serviceIds: Record<string, string> = {};
  const registerCompute = async (computeUrl: string) => {
    const base = computeUrl.replace(/\/v2\.1\/?$/, '');
    // Cinder's endpoint names the caller's project, as Cinder's catalog entries do.
    const volume = `${base}/volume/v3/$(project_id)s`;
    const endpoints = { compute: computeUrl, image: `${base}/image`, volumev3: volume, 'block-storage': volume, network: `${base}/network` };
    for (const [type, name] of [
      ['compute', 'nova'], ['image', 'glance'], ['volumev3', 'cinderv3'], ['block-storage', 'cinder'], ['network', 'neutron'],
    ] as const) {
      const url = endpoints[type];
      serviceIds[type] ??= (await create<{ id: string }>('/services', 'service', { type, name, description: `taskgate (${type})` })).id;
      const existing = (await (await admin(`/endpoints?service_id=${serviceIds[type]}`)).json() as { endpoints: { id: string }[] }).endpoints;
      for (const endpoint of existing) await admin(`/endpoints/${endpoint.id}`, { method: 'DELETE' });
      for (const iface of ['public', 'internal', 'admin']) {
        await create('/endpoints', 'endpoint', { service_id: serviceIds[type], interface: iface, url, region_id: REGION });
      }
    }
  };
  if (args.computeUrl) await registerCompute(args.computeUrl);

  return {
    url: `${base}/v3`,
    authUrl: base,
    dir: args.dir,
    region: REGION,
    projects,
    users,
    service: users.taskgate!,
    token: (user, project) => passwordToken(base, user, password, project ?? users[user]?.project ?? user),
    registerCompute,
    admin: (path, init) => admin(path, init),
    cloudsYaml: () => cloudsYaml(base, users),
    stop: args.stop,
  };
}

function cloudsYaml(authUrl: string, users: Record<string, KeystoneUser>): string {
  const clouds = Object.values(users).map((u) => `  ${u.name}:
    auth:
      auth_url: ${authUrl}
      username: ${u.name}
      password: ${u.password}
      project_name: ${u.project}
      user_domain_name: Default
      project_domain_name: Default
    region_name: ${REGION}
    identity_api_version: 3
    interface: public
`).join('');
  return `clouds:\n${clouds}`;
}

/**
 * The settings that put taskgate in Keystone mode against this Keystone, with its service user,
 * as `npm start` reads them (TASKGATE_AUTH_MODE=keystone, functions/core/shared/config.ts).
 */
export function keystoneModeSettings(keystone: Keystone): Record<string, string> {
  return {
    TASKGATE_AUTH_MODE: 'keystone',
    TASKGATE_KEYSTONE_URL: keystone.url,
    TASKGATE_KEYSTONE_USERNAME: keystone.service.name,
    TASKGATE_KEYSTONE_PASSWORD: keystone.service.password,
    // Keystone on a busy machine can take seconds to validate a token.
    TASKGATE_KEYSTONE_TIMEOUT_MS: '30000',
  };
}
