import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// `npm start` as a real child process, for the tests that kill it or stop it by signal.

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface LocalProcess {
  readonly child: ChildProcess;
  readonly apiUrl: string;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves once what it printed matches `pattern` (a gate, not a delay); rejects if it exits first. */
  printed(pattern: RegExp): Promise<void>;
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts the local runtime and waits for its start banner to end. `viaNpm` runs `npm start`
 * (npm, sh, tsx, node: the tree a user's signal goes through); otherwise node runs the entry
 * itself, so the child's pid is the server's and SIGKILL kills the server.
 */
export async function startLocalProcess(
  env: Record<string, string>, opts: { viaNpm?: boolean; args?: string[]; ownProcessGroup?: boolean } = {},
): Promise<LocalProcess> {
  const command = opts.viaNpm ? 'npm' : process.execPath;
  const args = opts.viaNpm
    ? ['start', '--silent', '--', ...(opts.args ?? [])]
    : ['--import', 'tsx', 'bin/local.ts', ...(opts.args ?? [])];
  const child = spawn(command, args, {
    cwd: projectRoot, env: { ...process.env, PORT: '0', NODE_OPTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    detached: opts.ownProcessGroup ?? false,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const apiUrl = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      // The banner's last line: everything it prints at start (the data directory too) is out.
      const m = /listening on (\S+)/.exec(out);
      if (m && out.includes('Ctrl-C to stop.')) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    void exited.then((how) => reject(new Error(`local runtime exited (${how}) before listening:\n${out}`)));
  });
  const printed = (pattern: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (!pattern.test(out)) return;
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      resolve();
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then((how) => { if (!pattern.test(out)) reject(new Error(`exited (${how}) before printing ${pattern}:\n${out}`)); });
    check();
  });
  return { child, apiUrl, output: () => out, printed, exited };
}
