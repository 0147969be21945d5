import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRuntime } from '../local/runtime.js';

// `npm run test:clients`: the OpenStack clients operators already use, python-novaclient and
// openstacksdk (Debian's packages, under Debian's /usr/bin/python3, not a pyenv python), run
// unchanged against taskgate on its local runtime. Each suite asserts its own steps; this
// runner starts taskgate, runs them, and fails if any step failed.

const PYTHON = process.env.TASKGATE_CLIENT_PYTHON ?? '/usr/bin/python3';
const SUITES = ['novaclient_suite.py', 'openstacksdk_suite.py'];
const dir = fileURLToPath(new URL('../test/clients/', import.meta.url));

const probe = spawnSync(PYTHON, ['-c', 'import novaclient, openstack, keystoneauth1'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error(`${PYTHON} cannot import novaclient and openstack: install them with\n`
    + '  apt-get install -y python3-novaclient python3-openstacksdk\n' + (probe.stderr ?? probe.error?.message ?? ''));
  process.exit(2);
}

// Driver steps long enough that an operation is still running when the suites send a
// conflicting one, short enough that the whole run takes seconds.
const runtime = await startRuntime({ port: 0, driver: { stepMs: 300 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT });
console.log(`taskgate on ${runtime.apiUrl}`);

function run(suite: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [suite], {
      cwd: dir, stdio: 'inherit', env: { ...process.env, TASKGATE_API_URL: runtime.apiUrl, PYTHONDONTWRITEBYTECODE: '1' },
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

let failed = 0;
try {
  // One after the other: their output stays readable and the machine is small.
  for (const suite of SUITES) {
    const code = await run(suite);
    if (code !== 0) failed++;
  }
} finally {
  await runtime.stop();
}
console.log(failed ? `client suite: ${failed} of ${SUITES.length} failed` : `client suite: all ${SUITES.length} passed`);
process.exit(failed ? 1 : 0);
