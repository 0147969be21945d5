import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleFunction, ENTRY_FILE, esbuildTarget, filesLoadedAtInit, NODE_FLAGS } from '../lib/functionBundle.js';
import { DEFAULT_RUNTIME } from '../lib/taskgateFunction.js';
import { median } from './stats.js';

// `npx tsx bench/coldStart.ts [runs] [handler...]`: each handler built as the stack builds it
// (lib/functionBundle.ts: esbuild, ESM split into an entry and chunks, minified, source maps,
// built-ins from process.getBuiltinModule, target the stack's runtime), then its module
// initialisation timed in `runs` fresh Node processes started with the functions' V8 flags
// (NODE_FLAGS, which Lambda's node gets through the asset's wrapper), each importing the entry once: wall time
// and CPU time (steadier on a shared machine), with and without --enable-source-maps (which
// makes Node read and parse the source maps as the modules load). Prints what a cold start
// loads (the entry and the chunks it imports statically), the whole asset, the medians, and
// the load average (the machine is shared: compare figures taken at similar loads).

const root = fileURLToPath(new URL('..', import.meta.url));
/** Every function's entry: each directory of functions/ with a handler.ts (lib/taskgateFunction.ts's handlerDir). */
export const HANDLERS = readdirSync(join(root, 'functions')).filter((dir) => existsSync(join(root, 'functions', dir, 'handler.ts'))).sort();

export interface InitFigures { wallMs: number; cpuMs: number; minWallMs: number; maxWallMs: number }
export interface ColdStart {
  handler: string;
  /** What a cold start loads: the entry and the chunks it imports statically. */
  initKib: number;
  /** How many files that is: each one more module to open, compile and link (docs/costs.md). */
  initFiles: number;
  /** Every JavaScript file of the asset (chunks loaded on first use included), and the source maps. */
  kib: number;
  mapKib: number;
  /** The one-minute load average when the timing started. */
  load: number;
  plain?: InitFigures;
  sourceMaps?: InitFigures;
  notLoaded?: string;
}

/** Builds a handler as the stack does; its entry file and sizes. */
export async function bundleAsDeployed(handler: string, outdir: string) {
  const dir = join(outdir, handler);
  const meta = await bundleFunction(handler, dir, esbuildTarget(DEFAULT_RUNTIME.name));
  const bytes = (files: string[]) => files.reduce((sum, f) => sum + meta.outputs[f]!.bytes, 0) / 1024;
  const js = Object.keys(meta.outputs).filter((f) => f.endsWith('.mjs'));
  const atInit = filesLoadedAtInit(meta);
  return {
    file: join(dir, ENTRY_FILE),
    initKib: bytes(atInit), initFiles: atInit.length, kib: bytes(js), mapKib: bytes(Object.keys(meta.outputs).filter((f) => f.endsWith('.map'))),
  };
}

/** The import's wall and CPU milliseconds in a fresh Node process, medians of `runs`. */
export function initTimes(file: string, runs: number, nodeOptions: string[] = []): InitFigures {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = spawnSync(process.execPath, [...nodeOptions, '--input-type=module', '-e',
      `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); `
      + 'const u = process.cpuUsage(c); console.log(performance.now() - t, (u.user + u.system) / 1000);'], {
      env: {
        PATH: process.env.PATH, TABLE_NAME: 't', QUEUE_URL: 'http://127.0.0.1:1/q', AWS_REGION: 'us-east-1', TASKGATE_AUTH_MODE: 'noauth',
        AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', TASKGATE_JWT_ISSUER: 'https://issuer.example', TASKGATE_JWT_AUDIENCE: 'taskgate',
        // The EC2 driver's functions read their configuration as they load (docs/ec2.md).
        TASKGATE_EC2_SUBNET_ID: 'subnet-0123456789abcdef0', TASKGATE_EC2_SECURITY_GROUP_IDS: 'sg-0123456789abcdef0', TASKGATE_EC2_STACK_TAG: 'bench',
        TASKGATE_EC2_INSTANCE_TYPES: '{"1":"t3.micro"}', TASKGATE_EC2_AMIS: '{"70a599e0-31e7-49b7-b260-868f441e862b":"ami-0123456789abcdef0"}',
      },
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`${file} failed to load: ${run.stderr}`);
    const [w, c] = run.stdout.trim().split('\n').pop()!.split(' ').map(Number);
    wall.push(w!);
    cpu.push(c!);
  }
  return { wallMs: median(wall), cpuMs: median(cpu), minWallMs: Math.min(...wall), maxWallMs: Math.max(...wall) };
}

export async function measureColdStarts(runs: number, tick: () => void = () => {}, handlers = HANDLERS): Promise<ColdStart[]> {
  const out = mkdtempSync(join(tmpdir(), 'taskgate-bundles-'));
  try {
    const rows: ColdStart[] = [];
    for (const handler of handlers) rows.push(await measureOne(handler));
    return rows;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }

  async function measureOne(handler: string): Promise<ColdStart> {
    const { file, ...sizes } = await bundleAsDeployed(handler, out);
    const size = { handler, ...sizes, load: loadavg()[0]! };
    try {
      const plain = initTimes(file, runs, NODE_FLAGS);
      return { ...size, plain, sourceMaps: initTimes(file, runs, [...NODE_FLAGS, '--enable-source-maps']) };
    } catch (err) {
      // A function that reads its own configuration at load (the EC2 driver's) is sized, not timed.
      const reason = String((err as Error).message).split('\n').reverse().find((l) => /Error\b/.test(l) && l.length < 300) ?? 'failed to load';
      return { ...size, notLoaded: reason.slice(0, 160) };
    } finally {
      tick();
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2] ?? 11);
  const only = process.argv.slice(3);
  for (const line of coldStartLines(await measureColdStarts(runs, undefined, only.length > 0 ? only : HANDLERS), runs)) console.log(line);
}

export function coldStartLines(rows: ColdStart[], runs: number): string[] {
  const f = (i: InitFigures) => `${i.wallMs.toFixed(1).padStart(6)} ms wall (${i.minWallMs.toFixed(0)}-${i.maxWallMs.toFixed(0)}), ${i.cpuMs.toFixed(1).padStart(6)} ms CPU`;
  return [
    `handler     loaded at init (files) / asset (maps)  load  init, median of ${runs} fresh processes: plain | with --enable-source-maps`,
    ...rows.map((r) => `${r.handler.padEnd(11)} ${r.initKib.toFixed(0).padStart(5)} KiB (${String(r.initFiles).padStart(2)}) / ${r.kib.toFixed(0).padStart(5)} KiB (${r.mapKib.toFixed(0).padStart(5)} KiB) ${r.load.toFixed(1).padStart(5)}  `
      + (r.plain && r.sourceMaps ? `${f(r.plain)} | ${f(r.sourceMaps)}` : `not timed: it does not load without its deployment's configuration (${r.notLoaded})`)),
  ];
}
