import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** Every ```sh block of a Markdown text, in order. */
export function allShellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
}

/** The ```sh blocks of a Markdown text between two headings, in order. */
export function extractShellBlocks(markdown: string, fromHeading: string, toHeading: string): string[] {
  const start = markdown.indexOf(fromHeading);
  const end = markdown.indexOf(toHeading, start);
  if (start < 0 || end < 0) throw new Error(`no section from "${fromHeading}" to "${toHeading}"`);
  return [...markdown.slice(start, end).matchAll(/```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
}

export interface LineExpectation {
  /** The HTTP status the line prints. */
  readonly code?: string;
  /** The server's status the line ends with (`gone` once deleted). */
  readonly status?: string;
  /** Words its output contains. */
  readonly text?: string;
}

/**
 * What a line of the operation reference says it does, from its comment: `# 202 PAUSED` (status
 * 202, then the server PAUSED and idle), `# 409 is locked`, `# 200 web-1`, `# ACTIVE`. A line
 * whose comment says none of these (or that has none) prints nothing.
 */
export function expectationOf(line: string): LineExpectation | undefined {
  const m = /\s#\s+(\d{3}\b)?\s*([A-Z][A-Z_]*\b|gone\b)?\s*(.*)$/.exec(line);
  if (!m || (!m[1] && !m[2])) return undefined;
  return { code: m[1], status: m[2], text: m[1] && m[3] ? m[3].trim() : undefined };
}

export interface BlockResult {
  readonly stdout: string;
  readonly stderr: string;
  /** stdout's lines, without the empty last one. */
  readonly lines: string[];
  /** The exit status of the block's last command. */
  readonly status: number;
}

/**
 * One bash process that blocks are pasted into one after the other, as into a terminal:
 * variables and functions a block defines stay for the next. Each block's output is what it
 * printed before a marker the session echoes after it.
 */
export class ShellSession {
  private readonly bash: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  private count = 0;

  constructor(env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { env });
    this.bash.stdout.on('data', (c: Buffer) => { this.stdout += c.toString(); });
    this.bash.stderr.on('data', (c: Buffer) => { this.stderr += c.toString(); });
  }

  async run(block: string): Promise<BlockResult> {
    const marker = `__readme_block_${++this.count}__`;
    this.bash.stdin.write(`${block}\n__readme_status=$?; echo ${marker} >&2; echo ${marker}; echo $__readme_status\n`);
    const ended = () => this.stdout.includes(`${marker}\n`) && /^\d+\n/.test(this.stdout.slice(this.stdout.indexOf(`${marker}\n`) + marker.length + 1));
    while (!ended() || !this.stderr.includes(`${marker}\n`)) {
      if (this.bash.exitCode !== null) throw new Error(`bash exited (${this.bash.exitCode}) during:\n${block}\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const cut = (text: string) => text.slice(0, text.indexOf(`${marker}\n`));
    const stdout = cut(this.stdout);
    const stderr = cut(this.stderr);
    const rest = this.stdout.slice(this.stdout.indexOf(`${marker}\n`) + marker.length + 1);
    const status = Number(/^(\d+)\n/.exec(rest)![1]);
    this.stdout = rest.slice(rest.indexOf('\n') + 1);
    this.stderr = this.stderr.slice(this.stderr.indexOf(`${marker}\n`) + marker.length + 1);
    return { stdout, stderr, status, lines: stdout.split('\n').filter((l, i, all) => i < all.length - 1 || l !== '') };
  }

  async close(): Promise<void> {
    if (this.bash.exitCode !== null) return;
    const exited = new Promise((resolve) => this.bash.once('exit', resolve));
    this.bash.stdin.end('exit\n');
    await exited;
  }
}
