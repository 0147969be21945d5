import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractShellBlocks, expectationOf, ShellSession } from '../support/readme.js';

// The README as a script: a fresh `npm start` on a free port, then every shell block of the
// walk-through and of the operation reference pasted into one bash session, in order, as a reader
// would (PORT exported, as the README asks when it is not 8774). Each block must run without a
// word on stderr and print what the text around it says; each line of the reference carries its
// expected HTTP status and server status in its comment, and is checked against them. Then the
// walk-through runs a second time, which must leave exactly one web-1.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const root = new URL('../..', import.meta.url).pathname;
const blocks = extractShellBlocks(README, '## Walk-through', '## Using OpenStack clients');
const walkthrough = blocks.slice(0, 4);
const reference = blocks.slice(4);

let server: ChildProcess;
let port: string;
let shell: ShellSession;
let bin: string;

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), 'taskgate-readme-'));
  server = spawn('npm', ['start'], {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    // PORT=0: a free port, which `npm start` prints; the blocks then get that PORT, as the README
    // says. A data directory of its own: a fresh start, whatever .data/ holds.
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
  shell = new ShellSession({ ...process.env, PATH: `${bin}:${process.env.PATH}`, PORT: port });
}, 120_000);

afterAll(async () => {
  await shell?.close();
  if (server?.pid) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    process.kill(-server.pid, 'SIGTERM');
    await exited;
  }
  if (bin) rmSync(bin, { recursive: true, force: true });
});

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

async function runWalkthrough() {
  const [create, attach, race, after] = walkthrough;

  const created = await shell.run(create!);
  expect(created.stderr).toBe('');
  const [early, done] = created.lines.slice(-2);
  expect(early).toMatch(/^(BUILD (scheduling|spawning)|ACTIVE None)$/);
  expect(done).toBe('ACTIVE None');
  const id = (await shell.run('echo "$ID"')).stdout.trim();
  expect(id).toMatch(new RegExp(`^${UUID}$`));

  const attached = await shell.run(attach!);
  expect(attached.stderr).toBe('');
  const vol = (await shell.run('echo "$VOL"')).stdout.trim();
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
  return id;
}

it('has the shell blocks this test knows: four of walk-through, three of operation reference', () => {
  expect(walkthrough).toHaveLength(4);
  expect(reference).toHaveLength(3);
});

it('runs the walk-through and every line of the operation reference, as pasted, doing what they say', async () => {
  const id = await runWalkthrough();

  let checked = 0;
  const silent: string[] = [];
  for (const block of reference) {
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
  }
  // Every operation of the catalogue has its line, and so do lock, unlock, reset-state and the reads.
  expect(checked).toBeGreaterThanOrEqual(37);
  // Cinder's volume and Neutron's port, made before they are attached: lines that print nothing.
  expect(silent).toEqual([expect.stringMatching(/^VOL2=\$\(/), expect.stringMatching(/^PORT_ID=\$\(/)]);
  const lines = reference.join('\n');
  for (const request of ['{"rebuild"', '{"resize"', '{"confirmResize"', '{"revertResize"', '{"shelve"', '{"shelveOffload"',
    '{"unshelve"', '{"volumeAttachment"', '-X DELETE $API/servers/$VM/os-volume_attachments/', '{"interfaceAttachment"',
    '-X DELETE $API/servers/$VM/os-interface/', '{"os-start"', '{"os-stop"', '{"reboot":{"type":"SOFT"}}',
    '{"reboot":{"type":"HARD"}}', '{"pause"', '{"unpause"', '{"suspend"', '{"resume"', '{"lock"', '{"unlock"',
    '{"os-resetState"', '-X DELETE $API/servers/$VM;']) {
    expect(lines).toContain(request);
  }

  // A second run of the walk-through replaces web-1 instead of adding one.
  const second = await runWalkthrough();
  expect(second).not.toBe(id);
  const named = await shell.run(`curl -s -H "$H" "$API/servers?name=^web-1\\$"`);
  expect(JSON.parse(named.stdout).servers.map((s: { id: string }) => s.id)).toEqual([second]);
}, 900_000);
