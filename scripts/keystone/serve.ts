import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKeystone } from './harness.js';

// `npm run keystone`: a real Keystone for trying taskgate's Keystone mode by hand (or for another
// suite to use). Prints its URLs and users as JSON on one line, writes a clouds.yaml with one cloud
// per user, and stops (deleting its temporary directory) on Ctrl-C.
//   KEYSTONE_PORT (default 5000), TASKGATE_COMPUTE_URL (default http://127.0.0.1:8774/v2.1),
//   KEYSTONE_PROJECTS (default alpha,beta), KEYSTONE_PASSWORD,
//   CLOUDS_YAML (default keystone/clouds.yaml in the data directory: .data/, git-ignored; it holds passwords)

const keystone = await startKeystone({
  port: Number(process.env.KEYSTONE_PORT ?? 5000),
  computeUrl: process.env.TASKGATE_COMPUTE_URL ?? 'http://127.0.0.1:8774/v2.1',
  projects: process.env.KEYSTONE_PROJECTS?.split(',').filter(Boolean),
  password: process.env.KEYSTONE_PASSWORD,
});
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const dataDir = process.env.TASKGATE_DATA_DIR && process.env.TASKGATE_DATA_DIR !== 'memory' ? process.env.TASKGATE_DATA_DIR : join(projectRoot, '.data');
const cloudsPath = resolve(process.env.CLOUDS_YAML ?? join(dataDir, 'keystone', 'clouds.yaml'));
mkdirSync(dirname(cloudsPath), { recursive: true });
writeFileSync(cloudsPath, keystone.cloudsYaml(), { mode: 0o600 });
console.log(JSON.stringify({
  url: keystone.url, authUrl: keystone.authUrl, region: keystone.region, cloudsYaml: cloudsPath,
  projects: keystone.projects,
  users: Object.fromEntries(Object.values(keystone.users).map((u) => [u.name, { id: u.id, password: u.password, project: u.project, roles: u.roles }])),
}));
console.error(`Keystone on ${keystone.authUrl}; clouds.yaml written to ${cloudsPath} `
  + `(OS_CLIENT_CONFIG_FILE=${cloudsPath} OS_CLOUD=<user> openstack ...). Ctrl-C to stop.`);

const stop = async () => { await keystone.stop(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
