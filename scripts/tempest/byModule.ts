import { readFileSync } from 'node:fs';

// `tsx scripts/tempest/byModule.ts <stestr-run.log> [--before <stestr-run.log>]`: a Tempest run
// (the stestr output that run.ts keeps in its workspace with TEMPEST_KEEP=1) as a table by
// module: ran, passed, skipped, failed; then every failure with the exception that ended it, and
// every skip with Tempest's reason. A class whose setUpClass failed counts as one failure of its
// module, as stestr counts it (its tests never ran). With --before, the table puts an earlier
// run's figures beside each module's (ran/passed/skipped/failed, before -> after).

export interface Outcome {
  readonly test: string;
  readonly module: string;
  readonly status: 'ok' | 'failed' | 'skipped';
  /** A skip's reason as Tempest gives it; a failure's last exception line. */
  readonly reason?: string;
}

const RESULT = /^(?:\{\d+\} )?(setUpClass \(([\w.]+)\)|([\w.]+)(?:\[[^\]]*\])?)(?: \[[\d.]+s\])? \.\.\. (ok|FAILED|SKIPPED: ?(.*))$/;
const RESULT_START = /^(?:\{\d+\} )?\S.* \.\.\. (ok|FAILED|SKIPPED)/;
// An exception as a traceback ends: four spaces, a dotted name, a colon (the `File "..."` lines are not).
const EXCEPTION = /^ {4}([A-Za-z_][\w.]*): (.*)$/;

/** The module of a test id (package.module.Class.test) or of a class (package.module.Class). */
const moduleOf = (id: string, isClass: boolean) => id.split('.').slice(0, isClass ? -1 : -2).join('.');

/** A failure's reason: its traceback's last exception line, with the start of the response it quotes. */
function failureReason(block: readonly string[]): string {
  let reason = '';
  for (const [i, line] of block.entries()) {
    const m = EXCEPTION.exec(line);
    if (!m) continue;
    const details = block[i + 1]?.startsWith('Details:') ? ` ${block[i + 1]!.slice(0, 240)}` : '';
    reason = `${m[1]}: ${m[2]!.slice(0, 240)}${details}`;
  }
  return reason || '(no traceback captured)';
}

export function parseRun(text: string): Outcome[] {
  const lines = text.split('\n');
  const outcomes: Outcome[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const m = RESULT.exec(lines[i]!);
    if (!m) continue;
    const isClass = m[2] !== undefined;
    const test = isClass ? `setUpClass (${m[2]})` : m[3]!;
    const module = moduleOf(isClass ? m[2]! : m[3]!, isClass);
    if (m[4] === 'ok') { outcomes.push({ test, module, status: 'ok' }); continue; }
    if (m[4]!.startsWith('SKIPPED')) { outcomes.push({ test, module, status: 'skipped', reason: m[5] ?? '' }); continue; }
    let end = i + 1;
    while (end < lines.length && !RESULT_START.test(lines[end]!)) end += 1;
    outcomes.push({ test, module, status: 'failed', reason: failureReason(lines.slice(i + 1, end)) });
  }
  return outcomes;
}

export function table(outcomes: readonly Outcome[]): string {
  const modules = rows(outcomes);
  const short = (m: string) => m.replace(/^tempest\.api\./, '');
  const width = Math.max(10, ...[...modules.keys()].map((m) => short(m).length));
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const total = { ran: 0, passed: 0, skipped: 0, failed: 0 };
  const lines = [...modules].sort(([a], [b]) => a.localeCompare(b)).map(([m, r]) => {
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k];
    return `${short(m).padEnd(width)} ${pad(r.ran, 5)} ${pad(r.passed, 6)} ${pad(r.skipped, 7)} ${pad(r.failed, 6)}`;
  });
  const head = `${'module'.padEnd(width)} ${pad('ran', 5)} ${pad('passed', 6)} ${pad('skipped', 7)} ${pad('failed', 6)}`;
  const foot = `${'total'.padEnd(width)} ${pad(total.ran, 5)} ${pad(total.passed, 6)} ${pad(total.skipped, 7)} ${pad(total.failed, 6)}`;
  const failures = outcomes.filter((o) => o.status === 'failed').map((o) => `  ${short(o.test)}\n      ${o.reason}`);
  const skips = outcomes.filter((o) => o.status === 'skipped').map((o) => `  ${short(o.test)}: ${o.reason}`);
  return [
    head, ...lines, foot, '',
    `Failures (${failures.length}):`, ...failures, '',
    `Skips (${skips.length}):`, ...skips, '',
  ].join('\n');
}

type Row = { ran: number; passed: number; skipped: number; failed: number };

/** Each module's counts. */
function rows(outcomes: readonly Outcome[]): Map<string, Row> {
  const modules = new Map<string, Row>();
  for (const o of outcomes) {
    const row = modules.get(o.module) ?? { ran: 0, passed: 0, skipped: 0, failed: 0 };
    row.ran += 1;
    if (o.status === 'ok') row.passed += 1; else if (o.status === 'skipped') row.skipped += 1; else row.failed += 1;
    modules.set(o.module, row);
  }
  return modules;
}

/** Each module's figures before and after, the modules whose figures changed marked with '*'. */
export function comparison(before: readonly Outcome[], after: readonly Outcome[]): string {
  const [b, a] = [rows(before), rows(after)];
  const names = [...new Set([...b.keys(), ...a.keys()])].sort();
  const cell = (r?: Row) => (r ? `${r.ran}/${r.passed}/${r.skipped}/${r.failed}` : '-');
  const short = (m: string) => m.replace(/^tempest\.api\./, '');
  const width = Math.max(10, ...names.map((m) => short(m).length));
  const sum = (m: Map<string, Row>): Row => [...m.values()].reduce((t, r) => ({
    ran: t.ran + r.ran, passed: t.passed + r.passed, skipped: t.skipped + r.skipped, failed: t.failed + r.failed,
  }), { ran: 0, passed: 0, skipped: 0, failed: 0 });
  return [
    `${'module (ran/passed/skipped/failed)'.padEnd(width)}  ${'before'.padStart(11)}  ${'after'.padStart(11)}`,
    ...names.map((m) => {
      const changed = cell(b.get(m)) !== cell(a.get(m)) ? ' *' : '';
      return `${short(m).padEnd(width)}  ${cell(b.get(m)).padStart(11)}  ${cell(a.get(m)).padStart(11)}${changed}`;
    }),
    `${'total'.padEnd(width)}  ${cell(sum(b)).padStart(11)}  ${cell(sum(a)).padStart(11)}`, '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const path = process.argv[2];
  const beforeAt = process.argv.indexOf('--before');
  if (!path || path === '--before' || (beforeAt > 0 && !process.argv[beforeAt + 1])) {
    console.error('usage: tsx scripts/tempest/byModule.ts <stestr-run.log> [--before <stestr-run.log>]');
    process.exit(2);
  }
  const after = parseRun(readFileSync(path, 'utf8'));
  if (beforeAt > 0) process.stdout.write(comparison(parseRun(readFileSync(process.argv[beforeAt + 1]!, 'utf8')), after));
  else process.stdout.write(table(after));
}
