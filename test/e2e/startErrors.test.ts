import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalProcess, type LocalProcess } from '../support/localProcess.js';

// What `npm start` says when it cannot start, or is asked how to: one line on stderr and exit 1
// (the data directory held by another taskgate, named by its pid; the port taken), usage and exit 0
// for --help. The real process, as a user runs it.

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the local runtime to its exit: its exit code, stdout and stderr. */
function runToExit(env: Record<string, string>, opts: { viaNpm?: boolean; args?: string[] } = {}) {
  const command = opts.viaNpm ? 'npm' : process.execPath;
  const args = opts.viaNpm
    ? ['start', '--silent', '--', ...(opts.args ?? [])]
    : ['--import', 'tsx', 'bin/local.ts', ...(opts.args ?? [])];
  const child = spawn(command, args, {
    cwd: projectRoot, env: { ...process.env, PORT: '0', NODE_OPTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  return new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr }));
  });
}

let dataDir: string;
let first: LocalProcess | undefined;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'taskgate-start-'));
  first = await startLocalProcess({ TASKGATE_DATA_DIR: dataDir });
});
afterAll(async () => {
  if (first) {
    first.child.kill('SIGTERM');
    await first.exited;
  }
  await rm(dataDir, { recursive: true, force: true });
});

it('a second start on the same data directory names the taskgate that holds it, in one line', async () => {
  expect((await readFile(join(dataDir, 'taskgate.pid'), 'utf8')).trim()).toBe(String(first!.child.pid));
  const second = await runToExit({ TASKGATE_DATA_DIR: dataDir });
  expect(second.code).toBe(1);
  expect(second.stderr.trim().split('\n')).toEqual([
    `taskgate: the data directory ${dataDir} is in use by another taskgate (pid ${first!.child.pid}): `
    + 'stop it first, or set TASKGATE_DATA_DIR to another directory (or to memory)',
  ]);
  // --fresh does not empty it from under the running one either.
  const fresh = await runToExit({ TASKGATE_DATA_DIR: dataDir }, { args: ['--fresh'] });
  expect(fresh.code).toBe(1);
  expect(fresh.stderr).toContain(`is in use by another taskgate (pid ${first!.child.pid})`);
  expect((await readFile(join(dataDir, 'taskgate.pid'), 'utf8')).trim()).toBe(String(first!.child.pid));
});

it('a port in use is one line naming it, not an EADDRINUSE stack', async () => {
  const port = new URL(first!.apiUrl).port;
  const second = await runToExit({ TASKGATE_DATA_DIR: 'memory', PORT: port });
  expect(second.code).toBe(1);
  expect(second.stderr.trim().split('\n')).toEqual([
    `taskgate: port ${port} on 127.0.0.1 is in use (another taskgate, or another program): `
    + 'stop it, or set PORT to another port (PORT=0: any free port)',
  ]);
});

it('npm start -- --help prints the options and the main settings, and exits 0', async () => {
  const help = await runToExit({ TASKGATE_DATA_DIR: 'memory' }, { viaNpm: true, args: ['--help'] });
  expect(help.code).toBe(0);
  expect(help.stderr).toBe('');
  expect(help.stdout).toMatch(/^Usage: npm start/);
  for (const word of ['--fresh', '--help', 'PORT', 'HOST', 'TASKGATE_DATA_DIR', 'TASKGATE_AUTH_MODE']) expect(help.stdout).toContain(word);
});

it('a clean stop removes the pid file', async () => {
  first!.child.kill('SIGTERM');
  expect(await first!.exited).toBe(0);
  first = undefined;
  await expect(readFile(join(dataDir, 'taskgate.pid'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
});

it('the Idempotency-Key settings are npm start\'s too: a window no longer than an API invocation can live is refused in one line', async () => {
  // The in-progress window must outlast API Gateway's 29 s: a retry that takes a key over must
  // find its first request dead. `npm start` once ignored TASKGATE_IDEMPOTENCY_* altogether.
  const refused = await runToExit({ TASKGATE_DATA_DIR: 'memory', TASKGATE_IDEMPOTENCY_IN_PROGRESS_SECONDS: '5' });
  expect(refused.code).toBe(2); // a bad setting, as every other one
  expect(refused.stderr).toMatch(/TASKGATE_IDEMPOTENCY_IN_PROGRESS_SECONDS must be an integer from 30 to 3600/);
});
