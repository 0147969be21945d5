import { loadavg } from 'node:os';
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createApi } from '../functions/api/app.js';
import { sqsOperationQueue } from '../functions/core/compute/queue.js';
import { NoauthIdentityProvider } from '../functions/core/identity/noauth.js';
import { keys, makeTable } from '../functions/core/shared/table.js';
import { lambdaContext } from '../local/lambdaContext.js';
import { REGION, CREDENTIALS } from '../local/emulators.js';
import { seedInstance } from '../test/support/emulators.js';
import { withBusyNeighbours } from './busyNeighbours.js';
import { BENCH_CALLER, startHarness, type Harness } from './harness.js';
import { lockItemPeer } from './peers.js';
import type { TimedRequest } from './requestTimeline.js';
import { median } from './stats.js';

// `npx tsx bench/contentionProfile.ts [--busy] [--seconds S] [--rounds N]`: where one contended
// instance's cycle goes, taskgate's and the lock item's, with 4 clients as the bench's contention
// figure has them (bench/run.ts), in interleaved rounds. For each side: the process's CPU per
// answer and per accepted operation, the requests per accepted operation, and the critical path:
// each request between one operation's work ending and the next one's starting, as the median of
// its start and end after the work ended. Then what a refusal costs taskgate's own code: the API
// handler answering the same 409 with its one DynamoDB request answered in-process. Figures are
// printed, nothing is written; no test reads them.

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const SECONDS = option('--seconds', 3);
const ROUNDS = option('--rounds', 2);
const BUSY = args.includes('--busy');
const CLIENTS = 4;
const WORK_MS = 20;

interface Window {
  readonly accepted: number;
  readonly answered: number;
  readonly seconds: number;
  readonly cpuMs: number;
  readonly requests: readonly TimedRequest[];
  /** The work intervals of the window, in order. */
  readonly work: readonly { start: number; end: number }[];
}

async function timedWindow(h: Harness, instanceId: string, attempt: () => Promise<boolean>, settle: (accepted: number) => Promise<void>): Promise<Window> {
  const firstWork = h.history.intervals.length;
  h.timeline.requests.length = 0;
  h.timeline.recording = true;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const stopAt = start + SECONDS * 1000;
  let accepted = 0;
  let answered = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < stopAt) {
      if (await attempt()) accepted++;
      answered++;
    }
  }));
  await settle(accepted);
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  h.timeline.recording = false;
  return {
    accepted, answered, seconds, cpuMs: (used.user + used.system) / 1000, requests: [...h.timeline.requests],
    work: h.history.intervals.slice(firstWork).filter((i) => i.instanceId === instanceId).sort((a, b) => a.start - b.start),
  };
}

async function taskgateWindow(h: Harness, server: string) {
  const compute = h.startCompute(4);
  try {
    const before = h.history.intervals.length;
    return await timedWindow(h, server,
      async () => (await h.api('POST', `/servers/${server}/action`, { reboot: { type: 'SOFT' } })).statusCode === 202,
      (accepted) => h.history.recorded(before + accepted));
  } finally {
    await compute.stop();
  }
}

async function lockWindow(h: Harness, lockId: string) {
  const lock = lockItemPeer(h.table('peer'), h.history, WORK_MS);
  let n = 0;
  return timedWindow(h, lockId, async () => (await lock.attempt({ instanceId: lockId, op: 'reboot', requestId: `p-${n++}` })) === 'accepted', async () => undefined);
}

/**
 * Each request that ended between one operation's work and the next one's, named by path,
 * operation and its rank among its kind in that gap (a second UpdateItem is `#2`); those found in
 * most gaps, with their median start and end after the work ended (a start before it: a long
 * poll that was waiting).
 */
function criticalPath(windows: readonly Window[]) {
  const byStep = new Map<string, { start: number[]; end: number[] }>();
  const gaps: number[] = [];
  for (const w of windows) {
    for (let k = 1; k + 1 < w.work.length; k++) {
      const ended = w.work[k]!.end;
      const next = w.work[k + 1]!.start;
      gaps.push(next - ended);
      const rank = new Map<string, number>();
      for (const r of w.requests.filter((x) => !x.failed && x.end > ended && x.end <= next).sort((a, b) => a.end - b.end)) {
        const kind = `${r.path} ${r.operation}`;
        rank.set(kind, (rank.get(kind) ?? 0) + 1);
        const step = byStep.get(`${kind} #${rank.get(kind)}`) ?? { start: [], end: [] };
        step.start.push(r.start - ended);
        step.end.push(r.end - ended);
        byStep.set(`${kind} #${rank.get(kind)}`, step);
      }
    }
  }
  const steps = [...byStep].filter(([, s]) => s.end.length > gaps.length / 2)
    .map(([name, s]) => ({ name, start: median(s.start), end: median(s.end) })).sort((a, b) => a.end - b.end);
  return { cycles: gaps.length, nextWorkAfter: median(gaps), steps };
}

/** Prints one side's figures; returns its accepted operations per second. */
function report(name: string, windows: readonly Window[]) {
  const sum = (f: (w: Window) => number) => windows.reduce((a, w) => a + f(w), 0);
  const accepted = sum((w) => w.accepted);
  const answered = sum((w) => w.answered);
  const ok = (w: Window) => w.requests.filter((r) => !r.failed).length;
  const failed = (w: Window) => w.requests.filter((r) => r.failed).length;
  const perKind = new Map<string, number>();
  for (const w of windows) {
    for (const r of w.requests) {
      const kind = `${r.path} ${r.operation}${r.failed ? ' (failed)' : ''}`;
      perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
    }
  }
  const refusals = windows.flatMap((w) => w.requests.filter((r) => r.failed).map((r) => r.end - r.start));
  console.log(`${name}: ${(accepted / sum((w) => w.seconds)).toFixed(1)} ops/s (by round ${windows.map((w) => (w.accepted / w.seconds).toFixed(1)).join(' ')}), `
    + `${(answered / sum((w) => w.seconds)).toFixed(0)} answers/s, ${(answered / accepted - 1).toFixed(1)} refusals per accepted; `
    + `process CPU ${(sum((w) => w.cpuMs) / answered).toFixed(2)} ms per answer, ${(sum((w) => w.cpuMs) / accepted).toFixed(1)} ms per accepted operation `
    + `(${(100 * sum((w) => w.cpuMs) / (1000 * sum((w) => w.seconds))).toFixed(0)}% of one core)`);
  console.log(`  requests per accepted operation: ${(sum(ok) / accepted).toFixed(2)} answered, ${(sum(failed) / accepted).toFixed(2)} failed; `
    + [...perKind].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / accepted).toFixed(2)}`).join(', '));
  console.log(`  a failed request (a refusal's) takes ${median(refusals).toFixed(1)} ms from send to answer (median)`);
  const path = criticalPath(windows);
  console.log(`  critical path, median over ${path.cycles} cycles, ms after one operation's work ended (start .. end):`);
  for (const s of path.steps) console.log(`    ${s.name.padEnd(30)} ${s.start < 0 ? ' waiting' : s.start.toFixed(1).padStart(8)} .. ${s.end.toFixed(1).padStart(6)}`);
  console.log(`    the next operation's work starts at ${path.nextWorkAfter.toFixed(1)}`);
  return accepted / sum((w) => w.seconds);
}

/**
 * The CPU of taskgate's own code in a refusal: the API handler (middlewares, routing, validation,
 * policy, admission, the 409's body) with its one UpdateItem answered in-process by the failed
 * condition DynamoDB would give, carrying the claimed item as it is in the table.
 */
async function ownCodePerRefusal(h: Harness, server: string): Promise<number> {
  const raw = new DynamoDBClient({ endpoint: h.emulators.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS });
  const { Item } = await raw.send(new GetItemCommand({ TableName: h.emulators.tableName, Key: { pk: { S: keys.instance(server).pk }, sk: { S: keys.instance(server).sk } } }));
  raw.destroy();
  const answered = new DynamoDBClient({ region: REGION, credentials: CREDENTIALS, endpoint: 'http://127.0.0.1:9' });
  answered.middlewareStack.add(() => async () => {
    throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, Item } as never);
  }, { step: 'initialize', name: 'answeredInProcess', priority: 'high' });
  const api = createApi(
    { table: makeTable(h.emulators.tableName, answered), queue: sqsOperationQueue(new SQSClient({ region: REGION, credentials: CREDENTIALS }), h.emulators.queueUrl), claimLeaseMs: 900_000 },
    { identity: new NoauthIdentityProvider() },
  );
  const event = () => ({
    resource: '/{proxy+}', path: `/v2.1/servers/${server}/action`, httpMethod: 'POST',
    headers: { 'x-auth-token': BENCH_CALLER, 'content-type': 'application/json', host: 'bench', 'x-forwarded-proto': 'http' },
    multiValueHeaders: {}, queryStringParameters: null, multiValueQueryStringParameters: null,
    pathParameters: { proxy: `v2.1/servers/${server}/action` }, stageVariables: null,
    body: JSON.stringify({ reboot: { type: 'SOFT' } }), isBase64Encoded: false,
    requestContext: { requestId: crypto.randomUUID(), stage: '$default', httpMethod: 'POST', path: `/v2.1/servers/${server}/action` },
  });
  const refuse = async () => {
    const out = await api(event() as never, lambdaContext('api', 30_000) as never) as { statusCode: number };
    if (out.statusCode !== 409) throw new Error(`expected a 409, got ${out.statusCode}`);
  };
  for (let i = 0; i < 300; i++) await refuse();
  const perRun: number[] = [];
  for (let run = 0; run < 5; run++) {
    const cpu = process.cpuUsage();
    for (let i = 0; i < 300; i++) await refuse();
    const used = process.cpuUsage(cpu);
    perRun.push((used.user + used.system) / 1000 / 300);
  }
  answered.destroy();
  return median(perRun);
}

const h = await startHarness({ workMs: WORK_MS });
try {
  const { id: server } = await seedInstance(h.table('setup'), { projectId: 'bench', userId: 'bench' });
  const lockId = `profile-${server}`;
  console.log(`contention profile: ${CLIENTS} clients on one instance, ${WORK_MS} ms work, ${ROUNDS} interleaved rounds of ${SECONDS} s`
    + `${BUSY ? ', two CPU-bound processes beside' : ''}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const measure = async () => {
    // A first short round of each, unmeasured: the code paths compiled before the figures.
    await taskgateWindow(h, server);
    await lockWindow(h, lockId);
    const tg: Window[] = [];
    const lk: Window[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const pair = [async () => { tg.push(await taskgateWindow(h, server)); }, async () => { lk.push(await lockWindow(h, lockId)); }];
      for (const run of r % 2 === 0 ? pair : pair.reverse()) await run();
    }
    return { tg, lk };
  };
  const { tg, lk } = BUSY ? await withBusyNeighbours(2, measure) : await measure();
  const tgRate = report('taskgate', tg);
  const lkRate = report('lock item', lk);
  console.log(`ratio taskgate / lock item ${(tgRate / lkRate).toFixed(2)}; by round ${tg.map((w, i) => ((w.accepted / w.seconds) / (lk[i]!.accepted / lk[i]!.seconds)).toFixed(2)).join(' ')}`);
  // The instance claimed and nothing running it: every admission is refused.
  if ((await h.api('POST', `/servers/${server}/action`, { reboot: { type: 'SOFT' } })).statusCode !== 202) throw new Error('the instance should have been idle');
  console.log(`taskgate's own code in a refusal (the API handler, its DynamoDB answer given in-process): ${(await ownCodePerRefusal(h, server)).toFixed(3)} ms of CPU`);
} finally {
  await h.stop();
}
