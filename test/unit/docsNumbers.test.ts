import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { oldestOperationAlarmSeconds } from '../../lib/alarms.js';
import { DEFAULT_TIMING_INPUTS, timings } from '../../functions/core/shared/config.js';

// Figures the docs take from the code (leases, timeouts, the alarm) are checked against the code
// that derives them (functions/core/shared/config.ts, lib/alarms.ts): a doc that says "run lease
// of 420 s" while the code derives 90 fails here. And every TASKGATE_* variable a page names is
// one the code reads.

const root = new URL('../..', import.meta.url).pathname;
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const text = Object.fromEntries(pages.map((p) => [p, readFileSync(join(root, p), 'utf8')]));

const t = timings();
const number = (s: string) => Number(s.replace(/,/g, ''));

/** Phrases that carry a figure of the code, and the figure. */
const FIGURES: { name: string; pattern: RegExp; value: number }[] = [
  { name: 'run lease', pattern: /\brun lease(?: of|:| is| =)? ([\d,]+) s\b/gi, value: t.runLeaseSeconds },
  { name: 'claim lease', pattern: /\bclaim lease(?: of|:| is| =)? ([\d,]+) s\b/gi, value: t.claimLeaseSeconds },
  { name: 'reservation lease', pattern: /\breservation lease(?: of|:| is| =)? ([\d,]+) s\b/gi, value: t.reservationLeaseSeconds },
  { name: 'visibility timeout', pattern: /\bvisibility timeout(?: of|:| is| =)? ([\d,]+) s\b/gi, value: t.visibilityTimeoutSeconds },
  { name: 'API timeout', pattern: /\bAPI timeout(?: of|:| is| =)? ([\d,]+) s\b/gi, value: t.apiTimeoutSeconds },
  { name: 'compute function', pattern: /\bcompute function runs for at most ([\d,]+) s\b/gi, value: t.computeTimeoutSeconds },
  { name: 'oldest-operation alarm', pattern: /\boldest queued message older than ([\d,]+) s\b/gi, value: oldestOperationAlarmSeconds(t) },
  { name: 'sweep interval', pattern: /\bsweeper \(every ([\d,]+) s\)/gi, value: t.sweepIntervalSeconds },
  // docs/configuration.md's tables: `| (derived) run lease | timeout + margin = `90` |`.
  { name: 'run lease (table)', pattern: /\| \(derived\) run lease \|[^|]*`([\d,]+)`/g, value: t.runLeaseSeconds },
  { name: 'claim lease (table)', pattern: /\| \(derived\) claim lease \|[^|]*`([\d,]+)`/g, value: t.claimLeaseSeconds },
  { name: 'reservation lease (table)', pattern: /\| \(derived\) reservation lease \|[^|]*`([\d,]+)`/g, value: t.reservationLeaseSeconds },
  { name: 'visibility (table)', pattern: /\| `TASKGATE_VISIBILITY_TIMEOUT_SECONDS` \|[^|]*`([\d,]+)`/g, value: t.visibilityTimeoutSeconds },
  { name: 'compute timeout (table)', pattern: /\| `TASKGATE_COMPUTE_TIMEOUT_SECONDS` \| `([\d,]+)`/g, value: DEFAULT_TIMING_INPUTS.computeTimeoutSeconds },
  { name: 'API timeout (table)', pattern: /\| `TASKGATE_API_TIMEOUT_SECONDS` \| `([\d,]+)`/g, value: DEFAULT_TIMING_INPUTS.apiTimeoutSeconds },
  { name: 'max receive count (table)', pattern: /\| `TASKGATE_MAX_RECEIVE_COUNT` \| `([\d,]+)`/g, value: DEFAULT_TIMING_INPUTS.maxReceiveCount },
  { name: 'lease margin (table)', pattern: /\| `TASKGATE_LEASE_MARGIN_SECONDS` \| `([\d,]+)`/g, value: DEFAULT_TIMING_INPUTS.leaseMarginSeconds },
  { name: 'sweep interval (table)', pattern: /\| `TASKGATE_SWEEP_INTERVAL_SECONDS` \| `([\d,]+)`/g, value: DEFAULT_TIMING_INPUTS.sweepIntervalSeconds },
];

function found(pattern: RegExp) {
  return pages.flatMap((page) => [...text[page]!.matchAll(pattern)].map((m) => ({ page, said: number(m[1]!) })));
}

describe.each(FIGURES)('$name', ({ pattern, value }) => {
  it(`is written as the code derives it (${value})`, () => {
    const said = found(pattern);
    expect(said.length).toBeGreaterThan(0);
    expect(said.filter((s) => s.said !== value)).toEqual([]);
  });
});

it('docs/deploying.md states every lease, the timeouts and the alarm', () => {
  const deploying = text['docs/deploying.md']!;
  for (const name of ['run lease', 'claim lease', 'reservation lease', 'visibility timeout', 'compute function', 'oldest-operation alarm', 'sweep interval']) {
    expect({ name, stated: [...deploying.matchAll(FIGURES.find((f) => f.name === name)!.pattern)].length > 0 }).toEqual({ name, stated: true });
  }
});

it('a stale figure fails the check (the check is live)', () => {
  const stale = 'renews its claim for a run lease of 420 s; a claim lease of 900 s';
  const said = [...stale.matchAll(FIGURES[0]!.pattern), ...stale.matchAll(FIGURES[1]!.pattern)].map((m) => number(m[1]!));
  expect(said).toEqual([420, 900]);
  expect(said).not.toEqual([t.runLeaseSeconds, t.claimLeaseSeconds]);
});

it('every TASKGATE_* variable the docs name is one the code reads', () => {
  const sources = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory()
    ? sources(`${dir}/${e.name}`)
    : /\.(ts|mjs|sh|py)$/.test(e.name) ? [readFileSync(join(root, dir, e.name), 'utf8')] : []));
  const code = ['functions', 'local', 'bin', 'lib', 'scripts', 'bench', 'test/support', 'test/integration']
    .flatMap((dir) => sources(dir)).join('\n') + readFileSync(join(root, 'package.json'), 'utf8');
  const named = new Set(pages.flatMap((page) => [...text[page]!.matchAll(/\bTASKGATE_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0])));
  expect([...named].filter((name) => !code.includes(name)).sort()).toEqual([]);
});
