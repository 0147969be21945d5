import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_RUNTIME, ESM_REQUIRE_BANNER } from '../lib/taskgateFunction.js';
import { median } from './stats.js';

// `npx tsx bench/coldStart.ts [runs]`: each handler bundled as CDK's NodejsFunction bundles it
// (lib/taskgateFunction.ts: esbuild, ESM, minified, external source map, the require banner,
// module before main, target the stack's runtime), then its module initialisation timed in
// `runs` fresh Node processes, each importing the bundle once: wall time and CPU time (steadier
// on a shared machine), with and without --enable-source-maps (which makes Node read and parse
// the whole source map as the module loads). Prints sizes and medians.

const root = fileURLToPath(new URL('..', import.meta.url));
/** Every function's entry: each directory of functions/ with a handler.ts (lib/taskgateFunction.ts's handlerDir). */
export const HANDLERS = readdirSync(join(root, 'functions')).filter((dir) => existsSync(join(root, 'functions', dir, 'handler.ts'))).sort();

export interface InitFigures { wallMs: number; cpuMs: number; minWallMs: number; maxWallMs: number }
export interface ColdStart { handler: string; kib: number; mapKib: number; plain?: InitFigures; sourceMaps?: InitFigures; notLoaded?: string }

/** esbuild with the arguments CDK passes it for a TaskgateFunction. */
export function bundleAsCdk(handler: string, outdir: string): string {
  const file = join(outdir, handler, 'index.mjs');
  const target = DEFAULT_RUNTIME.name.replace(/^nodejs(\d+)\.x$/, 'node$1');
  execFileSync(join(root, 'node_modules/.bin/esbuild'), [
    join(root, `functions/${handler}/handler.ts`), '--bundle', `--target=${target}`, '--platform=node', '--format=esm',
    '--minify', '--sourcemap', '--main-fields=module,main', `--banner:js=${ESM_REQUIRE_BANNER}`, `--outfile=${file}`, '--log-level=error',
  ]);
  return file;
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

export function measureColdStarts(runs: number, tick: () => void = () => {}): ColdStart[] {
  const out = mkdtempSync(join(tmpdir(), 'taskgate-bundles-'));
  try {
    return HANDLERS.map((handler) => {
      const file = bundleAsCdk(handler, out);
      const size = { handler, kib: statSync(file).size / 1024, mapKib: statSync(`${file}.map`).size / 1024 };
      try {
        const plain = initTimes(file, runs);
        return { ...size, plain, sourceMaps: initTimes(file, runs, ['--enable-source-maps']) };
      } catch (err) {
        // A function that reads its own configuration at load (the EC2 driver's) is sized, not timed.
        const reason = String((err as Error).message).split('\n').reverse().find((l) => /Error\b/.test(l) && l.length < 300) ?? 'failed to load';
        return { ...size, notLoaded: reason.slice(0, 160) };
      } finally {
        tick();
      }
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2] ?? 11);
  for (const line of coldStartLines(measureColdStarts(runs), runs)) console.log(line);
}

export function coldStartLines(rows: ColdStart[], runs: number): string[] {
  const f = (i: InitFigures) => `${i.wallMs.toFixed(1).padStart(6)} ms wall (${i.minWallMs.toFixed(0)}-${i.maxWallMs.toFixed(0)}), ${i.cpuMs.toFixed(1).padStart(6)} ms CPU`;
  return [
    `handler      bundle (map)          init, median of ${runs} fresh processes: plain | with --enable-source-maps`,
    ...rows.map((r) => `${r.handler.padEnd(11)} ${r.kib.toFixed(0).padStart(5)} KiB (${r.mapKib.toFixed(0).padStart(5)} KiB)  `
      + (r.plain && r.sourceMaps ? `${f(r.plain)} | ${f(r.sourceMaps)}` : `not timed: it does not load without its deployment's configuration (${r.notLoaded})`)),
  ];
}
