import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationCatalogue } from '../../functions/core/compute/catalogue.js';
import { allShellBlocks, expectationOf, ShellSession, type BlockResult } from '../support/readme.js';

// The README as a script: every ```sh block, pasted into one bash session in order, as a reader
// would, each checked against what the text around it says. The first block (`npm ci && npm
// start`, `npm test`) is what this test stands on: it runs `npm start` itself, on a free port and a
// fresh data directory of its own, and exports that PORT, as the README asks; it does not run
// `npm ci` or `npm test` (it is part of them). The blocks that need an AWS account say so in their
// first line and come last; every block before them runs, the deploy section's synth included.
// Then the walk-through runs a second time on the same data directory: its ids are its own.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const root = new URL('../..', import.meta.url).pathname;
const blocks = allShellBlocks(README);
const NEEDS_AWS = /^# needs an AWS account/;
const NEEDS_CLIENTS = /^# needs the openstack and nova CLIs/;
const [setup, create, attach, race, after, tour, lockBlock, reads, keyed, clients, synthBlock, ...aws] = blocks;

let server: ChildProcess;
let port: string;
let shell: ShellSession;
let bin: string;
// The synth touches nothing the other blocks use (no server, no .data/): it runs in a shell of its
// own from the start, beside the walk-through, and is checked at its place in the order. This
// saves its minute or two of CPU-bound work from the test's length.
let synthShell: ShellSession;
let synthRun: Promise<BlockResult>;
let synthStarted: number;

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), 'taskgate-readme-'));
  server = spawn('npm', ['start'], {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: '0', NODE_OPTIONS: '', TASKGATE_DATA_DIR: join(bin, 'data') },
  });
  port = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/v2\.1/.exec(out);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (code) => reject(new Error(`npm start exited (${code}): ${out}`)));
  });
  // Same python3, without a version manager's shim in front of it (a shim costs seconds a call).
  const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  symlinkSync(python, join(bin, 'python3'));
  // A reader's shell: no jest NODE_OPTIONS; the PORT `npm start` printed, exported.
  const env = { ...process.env, NODE_OPTIONS: '', PATH: `${bin}:${process.env.PATH}`, PORT: port };
  shell = new ShellSession(env);
  synthShell = new ShellSession(env);
  synthStarted = Date.now();
  synthRun = synthShell.run(synthBlock!);
  synthRun.catch(() => undefined); // awaited (and its failure reported) by its own test
}, 120_000);

afterAll(async () => {
  await shell?.close();
  await synthRun?.catch(() => undefined);
  await synthShell?.close();
  if (server?.pid) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    process.kill(-server.pid, 'SIGTERM');
    await exited;
  }
  if (bin) rmSync(bin, { recursive: true, force: true });
});

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const value = async (name: string) => (await shell.run(`echo "$${name}"`)).stdout.trim();

async function runWalkthrough() {
  const created = await shell.run(create!);
  expect(created.stderr).toBe('');
  const [early, done] = created.lines.slice(-2);
  expect(early).toMatch(/^(BUILD (scheduling|spawning)|ACTIVE None)$/);
  expect(done).toBe('ACTIVE None');
  const id = await value('ID');
  expect(id).toMatch(new RegExp(`^${UUID}$`));
  expect(await value('RUN')).toMatch(/^[0-9a-f]{8}$/);

  const attached = await shell.run(attach!);
  expect(attached.stderr).toBe('');
  const vol = await value('VOL');
  expect(attached.lines).toEqual([
    `{"volumeAttachment":{"id":"${vol}","serverId":"${id}","volumeId":"${vol}","device":"/dev/vdb"}} 200`,
    'ACTIVE None',
  ]);

  // One accepted, the other refused in Nova's words, as the README quotes it.
  const raced = await shell.run(race!);
  expect(raced.stderr).toBe('');
  expect(raced.lines).toHaveLength(2);
  const refusal = (idPattern: string) => new RegExp(
    `^\\{"conflictingRequest":\\{"code":409,"message":"Cannot '(rebuild|detach_volume)' instance ${idPattern} `
    + 'while it is in task_state (detaching_volume|rebuilding)"\\}\\} 409$');
  const refused = raced.lines.filter((l) => l.endsWith(' 409'));
  const accepted = raced.lines.filter((l) => l.endsWith(' 202'));
  expect(refused).toHaveLength(1);
  expect(accepted).toHaveLength(1);
  expect(refused[0]).toMatch(refusal(id));
  const quoted = /```json\n([^`]*?)\n```/.exec(README.slice(README.indexOf('## Walk-through')))![1]!;
  expect(quoted).toMatch(refusal('\\S+'));
  const detachWon = !accepted[0]!.startsWith('{"server"');

  const read = await shell.run(after!);
  expect(read.stderr).toBe('');
  expect(read.lines[0]).toBe('ACTIVE None');
  const actions = JSON.parse(read.lines.slice(1).join('\n')).instanceActions.map((a: { action: string }) => a.action);
  expect(actions).toEqual([detachWon ? 'detach_volume' : 'rebuild', 'attach_volume', 'create']);
  return { id, run: await value('RUN') };
}

/** Each line of a reference block, run alone and checked against its comment. */
async function runLineByLine(block: string) {
  let checked = 0;
  const silent: string[] = [];
  for (const line of block.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'))) {
    const result = await shell.run(line);
    const expected = expectationOf(line);
    expect({ line, stderr: result.stderr }).toEqual({ line, stderr: '' });
    if (!expected) {
      expect({ line, stdout: result.stdout }).toEqual({ line, stdout: '' });
      silent.push(line);
      continue;
    }
    if (expected.code) expect({ line, status: result.lines.find((l) => / \d{3}$/.test(l))?.slice(-3) }).toEqual({ line, status: expected.code });
    if (expected.status) expect({ line, last: result.lines.at(-1) }).toEqual({ line, last: `${expected.status} None` });
    if (expected.text) expect(result.stdout).toContain(expected.text);
    checked++;
  }
  return { checked, silent };
}

it('has the blocks this test knows, in order: set-up, walk-through, operations, Idempotency-Key, clients, synth, then AWS', () => {
  expect(setup!.split('\n').map((l) => l.replace(/\s+#.*$/, ''))).toEqual(['npm ci && npm start', 'npm test']);
  expect(create).toMatch(/^PORT=\$\{PORT:-8774\}\n/);
  expect(keyed).toContain('Idempotency-Key');
  expect(clients).toMatch(NEEDS_CLIENTS);
  expect(synthBlock).toMatch(/^npm run synth -- -c auth=\w+/);
  expect(aws.length).toBeGreaterThanOrEqual(1);
  for (const block of aws) expect(block).toMatch(NEEDS_AWS);
  // Only the blocks after the synth may need an AWS account, and only they are not run.
  expect(blocks.filter((b) => NEEDS_AWS.test(b))).toEqual(aws);
  // No tool beyond curl and python3 (and the shell's own) in the blocks a reader runs first.
  const walked = [create, attach, race, after, tour, lockBlock, reads, keyed].join('\n');
  expect(walked).not.toMatch(/\b(uuidgen|jq|lsof|wget|node)\b/);
  expect(walked).not.toMatch(/127\.0\.0\.1:8774|:5000\b/);
  // Every row of the operation catalogue has its line (the tour says "every one of them"), and so
  // do lock, unlock and reset-state, which claim nothing.
  const lines = [tour, lockBlock, reads].join('\n');
  const requestOf: Partial<Record<string, string>> = {
    create: '{"server":{', attach_volume: '{"volumeAttachment"', detach_volume: '-X DELETE $API/servers/$VM/os-volume_attachments/',
    attach_interface: '{"interfaceAttachment"', detach_interface: '-X DELETE $API/servers/$VM/os-interface/',
    start: '{"os-start"', stop: '{"os-stop"', reboot_soft: '{"reboot":{"type":"SOFT"}}', reboot_hard: '{"reboot":{"type":"HARD"}}',
    delete: '-X DELETE $API/servers/$VM;', live_migrate: '{"os-migrateLive"',
  };
  const missing = Object.entries(OperationCatalogue)
    .map(([name, row]) => requestOf[name] ?? `{"${row.action}"`)
    .concat(['{"lock"', '{"unlock"', '{"os-resetState"'])
    .filter((request) => !lines.includes(request));
  expect(missing).toEqual([]);
});

// The blocks run in README order across the tests below (jest runs a file's tests in order), in one session.
let first: { id: string; run: string };

it('runs the walk-through and every line of the operation tour, doing what they say', async () => {
  first = await runWalkthrough();

  let checked = 0;
  const silent: string[] = [];
  for (const block of [tour!, lockBlock!, reads!]) {
    const r = await runLineByLine(block);
    checked += r.checked;
    silent.push(...r.silent);
  }
  expect(checked).toBeGreaterThanOrEqual(43);
  // Cinder's volume and Neutron's port, made before they are attached: lines that print nothing.
  expect(silent).toEqual([expect.stringMatching(/^VOL2=\$\(/), expect.stringMatching(/^PORT_ID=\$\(/)]);
}, 600_000);

it('runs the Idempotency-Key block: the first answer replayed with its request id, another body refused', async () => {
  // Idempotency-Key: the first answer, replayed with its request id; another body with the key, 422.
  const replayed = await shell.run(keyed!);
  expect(replayed.stderr).toBe('');
  expect(replayed.lines).toHaveLength(4);
  expect(replayed.lines[0]).toMatch(new RegExp(`^202 req-${UUID}$`));
  expect(replayed.lines[1]).toBe(replayed.lines[0]);
  expect(replayed.lines[2]).toMatch(/^422\b/);
  expect(replayed.lines[3]).toBe('SHUTOFF None');
  const stops = (await shell.run(`curl -s -H "$H" $API/servers/$ID/os-instance-actions | python3 -c 'import json,sys; print(sum(a["action"] == "stop" for a in json.load(sys.stdin)["instanceActions"]))'`)).stdout.trim();
  expect(stops).toBe('1');
}, 120_000);

// The clients block needs the OpenStack CLIs, which are not npm packages: where they are not
// installed (CI installs them after `npm test`, for `npm run test:clients`) it is skipped, visibly.
const hasClients = (() => {
  try { execFileSync('sh', ['-c', 'command -v openstack && command -v nova'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
(hasClients ? it : it.skip)('runs the clients block: the openstack and nova CLIs see the walk-through\'s server', async () => {
  const listed = await shell.run(clients!);
  expect(listed.status).toBe(0);
  expect(listed.lines[0]).toBe('SHUTOFF');
  expect(listed.stdout).toMatch(new RegExp(`web-${first.run}\\s*\\|\\s*SHUTOFF`));
  expect((await shell.run('echo "${OS_TOKEN:-unset}"')).stdout.trim()).toBe('unset');
}, 120_000);

it('runs the deploy section\'s synth as written: the stack in the mode it names, cdk-nag clean', async () => {
  // The deploy section's synth, as written: the stack in the mode it names, cdk-nag clean.
  const started = synthStarted;
  const synthesized = await synthRun;
  expect({ status: synthesized.status, stderr: synthesized.stderr.split('\n').filter((l) => l && !/^Bundling asset /.test(l)) })
    .toEqual({ status: 0, stderr: [] });
  const template = JSON.parse(readFileSync(join(root, 'cdk.out', 'Taskgate.template.json'), 'utf8'));
  expect(Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type)).toContain('AWS::Cognito::UserPool');
  expect(existsSync(join(root, 'cdk.out', 'manifest.json'))).toBe(true);
  // Written by this synth, not left by an earlier one.
  expect(statSync(join(root, 'cdk.out', 'Taskgate.template.json')).mtimeMs).toBeGreaterThanOrEqual(started - 1000);
}, 600_000);

it('runs the walk-through a second time on the same data directory: servers of its own', async () => {
  // A second run of the walk-through, on the same data directory, makes servers of its own.
  const second = await runWalkthrough();
  expect(second.run).not.toBe(first.run);
  expect(second.id).not.toBe(first.id);
  for (const { id, run } of [first, second]) {
    const named = await shell.run(`curl -s -H "$H" "$API/servers?name=^web-${run}\\$"`);
    expect(JSON.parse(named.stdout).servers.map((s: { id: string }) => s.id)).toEqual([id]);
  }
}, 900_000);
