import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { claimInstance } from '../functions/core/compute/claimInstance.js';
import { CLEARED_CLAIM, clearingClaim } from '../functions/core/compute/release.js';
import { isConditionFailure, keys, type Table } from '../functions/core/shared/table.js';
import { seedInstance } from '../test/support/emulators.js';
import { seedVolume } from '../test/support/volumes.js';
import { seedPort } from '../test/support/networks.js';
import { barChartSvg } from './chart.js';
import { withBusyNeighbours } from './busyNeighbours.js';
import { coldStartLines, HANDLERS, measureColdStarts } from './coldStart.js';
import { measureOperationCosts, measurePeerCosts, memoryModel } from './costs.js';
import { PRICES } from './prices.js';
import { DEFAULT_MEMORY_MB } from '../lib/taskgateFunction.js';
import { startHarness, type Harness } from './harness.js';
import { findViolations, type History } from './history.js';
import { idempotencyPeer, lockItemPeer, naivePeer, type Attempt, type Peer, type PeerRequest } from './peers.js';
import { zeroCounts, type Counts } from './requestCounter.js';
import { median, percentile, progress, seededRandom } from './stats.js';

// `npm run bench [-- --quick] [-- --seed N]`: taskgate's real handlers on the embedded
// emulators, in this process. Prints a table, writes bench/results/<quick|full>.{json,txt,svg}.
// Figures are for comparison on one machine; no test asserts any of them.

const args = process.argv.slice(2);
const quick = args.includes('--quick');
// The emulators on a worker thread of this process, off the event loop of the handlers and clients.
const emulatorThread = args.includes('--emulator-thread');
const seedArg = args.indexOf('--seed');
// `--only headline,contention`: those parts alone, printed, nothing written (for working on one figure).
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? new Set(args[onlyArg + 1]?.split(',')) : undefined;
const SECTIONS = ['headline', 'requests', 'costs', 'peers', 'contention', 'scale', 'coldstart'];
if (only && [...only].some((part) => !SECTIONS.includes(part))) {
  console.error(`--only takes some of: ${SECTIONS.join(', ')}`);
  process.exit(2);
}
const runs = (part: string) => !only || only.has(part);
const SEED = seedArg >= 0 ? Number(args[seedArg + 1]) : 42;
const SIZE = quick
  ? { samples: 100, peerInstances: 10, peerRequests: 300, contentionS: 1.5, contentionRounds: 2, scale: [1, 10, 100], scaleS: 1.5, coldRuns: 3 }
  : { samples: 600, peerInstances: 50, peerRequests: 2000, contentionS: 3, contentionRounds: 6, scale: [1, 10, 100, 1000], scaleS: 4, coldRuns: 9 };
const WORK_MS = 20;
const OWNER = { projectId: 'bench', userId: 'bench' };
const root = fileURLToPath(new URL('..', import.meta.url));

const results: Record<string, unknown> = {
  when: new Date().toISOString(), size: quick ? 'quick' : 'full', seed: SEED, workMs: WORK_MS, emulatorThread,
  dynamodb: process.env.TASKGATE_DYNAMODB_ENDPOINT ? 'endpoint' : 'dynalite',
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
};
const lines: string[] = [];
const say = (line = '') => { lines.push(line); console.log(line); };
const ms = (v: number) => `${v.toFixed(2)} ms`;
const perOp = (c: Counts, n: number) =>
  Object.entries(c).filter(([, v]) => v > 0).map(([k, v]) => `${+(v / n).toFixed(2)} ${k}`).join(', ') || 'none';

async function seedServers(table: Table, n: number): Promise<string[]> {
  const bar = progress(`seeding ${n} servers`, n);
  const ids: string[] = [];
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => seedInstance(table, OWNER)));
    ids.push(...batch.map((s) => s.id));
    bar.tick(batch.length);
  }
  bar.done();
  return ids;
}

/** Puts a server back to idle without the worker (untimed): the claim cleared, the token moved on. */
async function makeIdle(table: Table, id: string) {
  await table.db.send(new UpdateCommand({
    TableName: table.name, Key: keys.instance(id), UpdateExpression: clearingClaim([]),
    ExpressionAttributeNames: { ...CLEARED_CLAIM.names }, ExpressionAttributeValues: { ...CLEARED_CLAIM.values },
  }));
}

async function purge(h: Harness) {
  await h.sqs('setup').send(new PurgeQueueCommand({ QueueUrl: h.emulators.queueUrl }));
}

/**
 * The UpdateItem input taskgate's admission sends to claim `server` for a soft reboot by the bench
 * caller (built by claimInstance itself, caught by a middleware; the claim is then undone).
 */
async function claimRequestOf(h: Harness, server: string): Promise<Record<string, unknown>> {
  const capturing = h.table('setup-capture');
  let input: Record<string, unknown> | undefined;
  capturing.db.middlewareStack.add((next) => async (args) => {
    input ??= structuredClone(args.input as Record<string, unknown>);
    return next(args);
  }, { step: 'initialize', name: 'captureClaim' });
  await claimInstance(capturing, {
    instanceId: server, op: 'reboot_soft', caller: { ...OWNER, roles: ['member', 'reader'], isAdmin: false },
    requestId: 'capture', params: {}, now: Date.now(), leaseMs: 15 * 60_000,
  });
  await makeIdle(h.table('setup'), server);
  return input!;
}

// 1. The headline: the floor (one conditional UpdateItem + one SendMessage through the SDK) and
//    the full admission through the API handler, interleaved. Between them, taskgate's own two
//    requests (its claim's UpdateItem, as admission builds it, and its SendMessage) sent straight
//    through the SDK: full / own is what the handler and admission add to their requests; own /
//    floor is what the emulator spends on a claim that checks project, lock, vm_state, task_state
//    and deletion and records the action, over a write with one condition.
async function headline(h: Harness) {
  const setup = h.table('setup');
  const floorTable = h.table('floor');
  const floorSqs = h.sqs('floor');
  const [server, ownServer] = await seedServers(setup, 2);
  const claimInput = await claimRequestOf(h, ownServer!);
  const floorKey = { pk: 'FLOOR#1', sk: 'META' };
  const floor: number[] = [];
  const own: number[] = [];
  const full: number[] = [];
  const bar = progress('floor vs full admission', SIZE.samples);
  for (let i = 0; i < SIZE.samples; i++) {
    const runFloor = async () => {
      const t = performance.now();
      await floorTable.db.send(new UpdateCommand({
        TableName: floorTable.name, Key: floorKey, UpdateExpression: 'SET taskState = :ts, claim = :c ADD version :one',
        ConditionExpression: 'attribute_not_exists(taskState)',
        ExpressionAttributeValues: { ':ts': 'rebooting', ':c': { requestId: `f-${i}` }, ':one': 1 }, ReturnValues: 'ALL_NEW',
      }));
      await floorSqs.send(new SendMessageCommand({
        QueueUrl: h.emulators.queueUrl, MessageBody: JSON.stringify({ i }), MessageGroupId: 'floor', MessageDeduplicationId: `floor-${i}`,
      }));
      floor.push(performance.now() - t);
      await setup.db.send(new UpdateCommand({ TableName: setup.name, Key: floorKey, UpdateExpression: 'REMOVE taskState, claim' }));
    };
    const runOwn = async () => {
      const values = claimInput.ExpressionAttributeValues as Record<string, unknown>;
      const requestId = `own-${i}`;
      const t = performance.now();
      const out = await floorTable.db.send(new UpdateCommand({
        ...claimInput, ExpressionAttributeValues: { ...values, ':claim': { ...(values[':claim'] as object), requestId } },
      } as never));
      await floorSqs.send(new SendMessageCommand({
        QueueUrl: h.emulators.queueUrl, MessageGroupId: ownServer!, MessageDeduplicationId: requestId,
        MessageBody: JSON.stringify({
          requestId, instanceId: ownServer, op: 'reboot_soft', token: out.Attributes?.version, params: {},
          userId: OWNER.userId, projectId: OWNER.projectId, claimedAt: Date.now(),
        }),
      }));
      own.push(performance.now() - t);
      await makeIdle(setup, ownServer!);
    };
    const runFull = async () => {
      const t = performance.now();
      const res = await h.api('POST', `/servers/${server}/action`, { reboot: { type: 'SOFT' } });
      full.push(performance.now() - t);
      if (res.statusCode !== 202) throw new Error(`admission answered ${res.statusCode}: ${res.body}`);
      await makeIdle(setup, server!);
    };
    const order = [runFloor, runOwn, runFull];
    for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]!();
    if (i % 100 === 99) await purge(h);
    bar.tick();
  }
  bar.done();
  await purge(h);
  const summary = (v: number[]) => ({ median: median(v), p99: percentile(v, 0.99) });
  const r = { floor: summary(floor), own: summary(own), full: summary(full) };
  const ratio = (a: { median: number; p99: number }, b: { median: number; p99: number }) => ({ median: a.median / b.median, p99: a.p99 / b.p99 });
  const headlineRatio = ratio(r.full, r.floor);
  results.headline = {
    ...r, ratio: headlineRatio, ownVsFloor: ratio(r.own, r.floor), fullVsOwn: ratio(r.full, r.own), samples: SIZE.samples,
  };
  const row = (name: string, v: { median: number; p99: number }) => say(`${name.padEnd(52)} median ${ms(v.median)}  p99 ${ms(v.p99)}`);
  const ratioRow = (name: string, v: { median: number; p99: number }, note = '') =>
    say(`${name.padEnd(52)} median ${v.median.toFixed(2)}  p99 ${v.p99.toFixed(2)}${note}`);
  say('## Headline: full admission vs the floor (interleaved)');
  row('floor (1 UpdateItem + 1 SendMessage)', r.floor);
  row("taskgate's own 2 requests, straight through the SDK", r.own);
  row('full admission (API handler, soft reboot)', r.full);
  ratioRow('ratio full / floor', headlineRatio, '  (target <= 1.15)');
  ratioRow("  of which the claim's own request: own / floor", ratio(r.own, r.floor));
  ratioRow('  of which handler and admission: full / own', ratio(r.full, r.own));
  say();
}

// 2. Requests per operation, by path and kind, counted by the SDK middleware.
async function requestsPerOperation(h: Harness) {
  const setup = h.table('setup');
  h.counter.reset();
  const rows: { what: string; api: Counts; compute: Counts; esm: Counts }[] = [];
  const measure = async (what: string, call: () => Promise<unknown>) => {
    h.counter.take('api'); h.counter.take('compute'); h.counter.take('esm');
    await call();
    const api = h.counter.take('api');
    await h.drain();
    const esm = h.counter.take('esm');
    esm.receive--; // the drain's last, empty receive: Lambda's long poll has no such cost per message
    rows.push({ what, api, compute: h.counter.take('compute'), esm });
  };
  const [id, other] = await seedServers(setup, 2);
  const vol = await seedVolume(setup, { projectId: OWNER.projectId });
  // A port is Neutron's: made first, as the owner's.
  const port = await seedPort(setup, OWNER.projectId);
  await measure('create', () => h.api('POST', '/servers', { server: { name: 'b', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b' } }));
  await measure('reboot (soft)', () => h.api('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } }));
  await measure('stop', () => h.api('POST', `/servers/${id}/action`, { 'os-stop': null }));
  await measure('start', () => h.api('POST', `/servers/${id}/action`, { 'os-start': null }));
  await measure('rebuild', () => h.api('POST', `/servers/${id}/action`, { rebuild: { imageRef: '155d900f-4e14-4e4c-a73d-069cbf4541e6' } }));
  await measure('resize (3 steps)', () => h.api('POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } }));
  await measure('confirm resize', () => h.api('POST', `/servers/${id}/action`, { confirmResize: null }));
  await measure('attach volume', () => h.api('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol } }));
  await measure('attach interface', () => h.api('POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: port } }));
  await measure('detach volume', () => h.api('DELETE', `/servers/${id}/os-volume_attachments/${vol}`));
  await measure('detach interface', () => h.api('DELETE', `/servers/${id}/os-interface/${port}`));
  // Refusals: what a 409, a bogus detach and a volume held elsewhere cost.
  const held = await seedVolume(setup, { projectId: OWNER.projectId });
  await h.api('POST', `/servers/${other}/os-volume_attachments`, { volumeAttachment: { volumeId: held } });
  await h.drain();
  await h.api('POST', `/servers/${id}/action`, { 'os-stop': null });
  h.counter.take('api');
  await h.api('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
  rows.push({ what: 'refused: 409 (busy)', api: h.counter.take('api'), compute: zeroCounts(), esm: zeroCounts() });
  await h.drain();
  await measure('refused: detach not attached (404)', () => h.api('DELETE', `/servers/${id}/os-volume_attachments/${crypto.randomUUID()}`));
  await measure('refused: volume held elsewhere (400)', () => h.api('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: held } }));
  await measure('delete (with 1 volume, 1 port)', async () => {
    await h.api('POST', `/servers/${other}/os-interface`, { interfaceAttachment: {} });
    await h.drain();
    h.counter.take('api'); h.counter.take('compute'); h.counter.take('esm');
    await h.api('DELETE', `/servers/${other}`);
  });
  await measure('GET /servers/{id}', () => h.api('GET', `/servers/${id}`));
  await measure('GET .../os-instance-actions', () => h.api('GET', `/servers/${id}/os-instance-actions`));
  results.requestsPerOperation = rows;
  say('## Requests per operation (SDK middleware count; esm = receive/delete made by the event source mapping)');
  say('operation                             | API path                     | compute path                 | esm');
  for (const r of rows) say(`${r.what.padEnd(37)} | ${perOp(r.api, 1).padEnd(28)} | ${perOp(r.compute, 1).padEnd(28)} | ${perOp(r.esm, 1)}`);
  say();

  // The detail page: requests for N servers, whatever N.
  const detail: { servers: number; requests: Counts }[] = [];
  for (const n of [1, 10, 100]) {
    const project = `detail${n}`;
    for (let i = 0; i < n; i += 25) {
      await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => seedInstance(setup, { projectId: project, userId: 'u' })));
    }
    h.counter.take('api');
    const event = await h.apiAs(`u:${project}`, 'GET', `/servers/detail?limit=${n}`);
    if (event.statusCode !== 200) throw new Error(`detail answered ${event.statusCode}`);
    detail.push({ servers: n, requests: h.counter.take('api') });
  }
  results.detailPage = detail;
  say('## GET /servers/detail: requests for a page of N servers');
  for (const d of detail) say(`N = ${String(d.servers).padEnd(4)} ${perOp(d.requests, 1)}`);
  say();
}

// 2b. What each operation costs on AWS (costs.ts), and the peers' own requests beside it.
// On a harness of its own: the driver's simulated work takes no time (what a real driver waits for
// EC2 is the driver's, not taskgate's), and the emulators run on a worker thread, so that the CPU
// time measured is the handlers'.
async function costs() {
  // With DynamoDB elsewhere (DynamoDB Local) the emulators stay on this thread: the thread would serve its own dynalite.
  const own = await startHarness({ workMs: 0, emulatorThread: !dynamodbEndpoint, dynamodbEndpoint });
  let rows: Awaited<ReturnType<typeof measureOperationCosts>>;
  let peerRows: Awaited<ReturnType<typeof measurePeerCosts>>;
  try {
    rows = await measureOperationCosts(own);
    peerRows = await measurePeerCosts(own);
  } finally {
    await own.stop();
  }
  results.costs = { prices: PRICES, memoryMb: DEFAULT_MEMORY_MB, operations: rows, peers: peerRows };
  const usd = (v: number) => `$${v.toFixed(2)}`;
  say(`## What it costs: per operation, and dollars per million operations (${PRICES.region} on-demand, prices of ${PRICES.asOf}, bench/prices.ts)`);
  say(`(write units: table + each index, from AWS's rules (bench/billing.ts); Lambda at ${DEFAULT_MEMORY_MB} MB arm64, the duration measured here on the emulators, a floor; REST API)`);
  say('operation                  status  WU table + indexes                          RU   SQS  Lambda (n, ms, cpu ms)  | DynamoDB    SQS  Lambda  API GW   total  (HTTP API)');
  for (const r of rows) {
    const idx = Object.entries(r.indexWriteUnits).map(([k, v]) => `${k} ${v}`).join(', ');
    const wu = `${r.writeUnits} = ${r.tableWriteUnits}${idx ? ` + ${idx}` : ''}`;
    const d = r.dollarsPerMillion;
    say(`${r.operation.padEnd(26)} ${String(r.status).padEnd(6)}  ${wu.padEnd(42)} ${String(r.readUnits).padStart(4)} ${String(r.sqsRequests).padStart(4)}  ${String(r.lambda.invocations).padStart(2)}, ${r.lambda.billedMs.toFixed(0).padStart(4)}, ${r.lambda.cpuMs.toFixed(0).padStart(4)}      | `
      + `${usd(d.dynamodb).padStart(8)} ${usd(d.sqs).padStart(6)} ${usd(d.lambda).padStart(7)} ${usd(d.apiGateway).padStart(7)} ${usd(d.total).padStart(7)}  (${usd(d.totalWithHttpApi)})`);
  }
  for (const p of peerRows) {
    say(`peer: ${p.name.padEnd(40)} WU ${String(p.writeUnits).padEnd(4)} RU ${String(p.readUnits).padEnd(4)} DynamoDB alone ${usd(p.dollarsPerMillion)} per million`);
  }
  const memory = Object.fromEntries((['api', 'compute'] as const).map((fn) => [fn, memoryModel(rows.map((r) => r.lambdaByFunction[fn]).filter((i) => i.invocations > 0))]));
  (results.costs as Record<string, unknown>).memoryModel = memory;
  say('Lambda memory, modelled from the CPU and wait times measured above (CPU stretched by 1,769 MB / memory; a model, not a measurement):');
  for (const [fn, options] of Object.entries(memory)) {
    say(`  ${fn.padEnd(8)} ${options.map((o) => `${o.memoryMb} MB: ${o.msPerInvocation} ms, $${o.dollarsPerMillionInvocations.toFixed(2)} per million`).join(' | ')}`);
  }
  const disagree = rows.filter((r) => !r.emulatorAgrees).map((r) => r.operation);
  const what = rows.some((r) => r.emulatorReportsIndexes) ? 'table and index' : 'table (it reports no index units)';
  say(disagree.length === 0 ? `the emulator's ${what} write units agree with the meter's on every operation`
    : `the emulator's ${what} write units differ from the meter's on: ${disagree.join(', ')}`);
  say();
}

interface RunFigures {
  name: string; accepted: number; refused: number; replayed: number; seconds: number; opsPerS: number;
  p50: number; p99: number; requestsPerAttempt: number; requestsPerAccepted: number; violations: number;
}

/** A seeded workload of conflicting requests over many instances, the same for every contender. */
function workload(instances: string[], n: number): PeerRequest[] {
  const random = seededRandom(SEED);
  const ops = ['reboot', 'rebuild'];
  return Array.from({ length: n }, (_, i) => ({
    instanceId: instances[Math.floor(random() * instances.length)]!, op: ops[Math.floor(random() * ops.length)]!, requestId: `w-${i}`,
  }));
}

async function runClients(requests: PeerRequest[], clients: number, attempt: (r: PeerRequest) => Promise<Attempt>, label: string) {
  const latencies: number[] = [];
  const tally = { accepted: 0, refused: 0, replayed: 0 };
  const bar = progress(label, requests.length);
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < requests.length) {
      const req = requests[next++]!;
      const t = performance.now();
      tally[await attempt(req)]++;
      latencies.push(performance.now() - t);
      bar.tick();
    }
  }));
  bar.done();
  return { latencies, ...tally };
}

const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);

// 3. Peers, on the same emulators and the same seeded workload.
async function peers(h: Harness) {
  const setup = h.table('setup');
  const instances = await seedServers(setup, SIZE.peerInstances);
  const requests = workload(instances, SIZE.peerRequests);
  const clients = 16;
  const figures: RunFigures[] = [];

  const contenders: Peer[] = [
    naivePeer(h.table('peer'), h.history, WORK_MS),
    lockItemPeer(h.table('peer'), h.history, WORK_MS),
    idempotencyPeer(h.table('peer'), h.history, WORK_MS),
  ];
  for (const peer of contenders) {
    h.history.intervals.length = 0;
    h.counter.take('peer');
    const t = performance.now();
    const run = await runClients(requests, clients, (r) => peer.attempt(r), peer.name);
    const seconds = (performance.now() - t) / 1000;
    const requestsMade = total(h.counter.take('peer'));
    figures.push({
      name: peer.name, accepted: run.accepted, refused: run.refused, replayed: run.replayed, seconds,
      opsPerS: run.accepted / seconds, p50: median(run.latencies), p99: percentile(run.latencies, 0.99),
      requestsPerAttempt: requestsMade / requests.length, requestsPerAccepted: requestsMade / Math.max(1, run.accepted),
      violations: findViolations(h.history.intervals).length,
    });
  }

  // taskgate: the API handler answers; the compute handler runs what was accepted.
  h.history.intervals.length = 0;
  for (const p of ['api', 'compute', 'esm']) h.counter.take(p);
  const compute = h.startCompute(4);
  const t = performance.now();
  const body = (op: string) => (op === 'reboot' ? { reboot: { type: 'SOFT' } } : { rebuild: { imageRef: '155d900f-4e14-4e4c-a73d-069cbf4541e6' } });
  const run = await runClients(requests, clients, async (r) => {
    const res = await h.api('POST', `/servers/${r.instanceId}/action`, body(r.op));
    return res.statusCode === 202 ? 'accepted' : 'refused';
  }, 'taskgate');
  while (h.history.intervals.length < run.accepted) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - t) / 1000;
  await compute.stop();
  const apiRequests = total(h.counter.take('api'));
  const computeRequests = total(h.counter.take('compute'));
  h.counter.take('esm');
  figures.push({
    name: 'taskgate', accepted: run.accepted, refused: run.refused, replayed: 0, seconds,
    opsPerS: run.accepted / seconds, p50: median(run.latencies), p99: percentile(run.latencies, 0.99),
    requestsPerAttempt: (apiRequests + computeRequests) / requests.length,
    requestsPerAccepted: (apiRequests + computeRequests) / Math.max(1, run.accepted),
    violations: findViolations(h.history.intervals).length,
  });
  const tg = figures.at(-1)!;
  results.peers = { instances: SIZE.peerInstances, requests: requests.length, clients, figures };
  say(`## Peers: ${requests.length} seeded requests (reboot/rebuild) over ${SIZE.peerInstances} instances, ${clients} clients, ${WORK_MS} ms work`);
  say('contender                          accepted  refused replayed  ops/s (x tg)   p50 ms  p99 ms  req/attempt req/accepted  violations');
  for (const f of figures) {
    say(`${f.name.padEnd(34)} ${String(f.accepted).padStart(8)} ${String(f.refused).padStart(8)} ${String(f.replayed).padStart(8)}  `
      + `${f.opsPerS.toFixed(1).padStart(6)} (${(f.opsPerS / tg.opsPerS).toFixed(2)})  ${f.p50.toFixed(1).padStart(6)}  ${f.p99.toFixed(1).padStart(6)}  `
      + `${f.requestsPerAttempt.toFixed(2).padStart(11)} ${f.requestsPerAccepted.toFixed(2).padStart(12)}  ${String(f.violations).padStart(10)}`);
  }
  say('(p50/p99: time to the answer; the peers answer after the work, taskgate after admission)');
  say();
  return figures;
}

// 4. One instance under contention: taskgate (through the API, its compute worker running) and the
//    lock item, the same clients on one server, in interleaved rounds so that a burst of load on
//    this shared machine falls on both alike; and the emulator's raw conditional-write rate.
interface Window { accepted: number; answered: number; seconds: number; statuses: Record<number, number>; cpuMs: number }

/** `clients` clients hammering `attempt` for `seconds`; the rate runs to when the last accepted work ended. */
async function measureWindow(clients: number, seconds: number, attempt: () => Promise<number>, settled: (accepted: number) => Promise<void>) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const stopAt = start + seconds * 1000;
  const w: Window = { accepted: 0, answered: 0, seconds: 0, statuses: {}, cpuMs: 0 };
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < stopAt) {
      const status = await attempt();
      w.statuses[status] = (w.statuses[status] ?? 0) + 1;
      w.answered++;
      if (status === 202) w.accepted++;
    }
  }));
  await settled(w.accepted);
  w.seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  w.cpuMs = (used.user + used.system) / 1000;
  return w;
}

async function taskgateWindow(h: Harness, server: string, clients: number, seconds: number) {
  const compute = h.startCompute(4);
  const before = h.history.intervals.length;
  try {
    return await measureWindow(clients, seconds,
      async () => (await h.api('POST', `/servers/${server}/action`, { reboot: { type: 'SOFT' } })).statusCode,
      (accepted) => h.history.recorded(before + accepted));
  } finally {
    await compute.stop();
  }
}

async function lockItemWindow(h: Harness, lockId: string, clients: number, seconds: number) {
  const lock = lockItemPeer(h.table('peer'), h.history, WORK_MS);
  let n = 0;
  // The lock item's work happens inside its attempt: an accepted attempt has ended its work.
  return measureWindow(clients, seconds,
    async () => ((await lock.attempt({ instanceId: lockId, op: 'reboot', requestId: `${lockId}-${n++}` })) === 'accepted' ? 202 : 409),
    async () => undefined);
}

async function compareUnderContention(h: Harness, clients: number, rounds: number, seconds: number) {
  const [server] = await seedServers(h.table('setup'), 1);
  const tg: Window[] = [];
  const lk: Window[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always follows the other's leftovers.
    const pair = [
      async () => { tg.push(await taskgateWindow(h, server!, clients, seconds)); },
      async () => { lk.push(await lockItemWindow(h, `contended-${clients}-${server}`, clients, seconds)); },
    ];
    for (const run of r % 2 === 0 ? pair : pair.reverse()) await run();
    await purge(h);
  }
  const rate = (ws: Window[]) => ws.reduce((a, w) => a + w.accepted, 0) / ws.reduce((a, w) => a + w.seconds, 0);
  const answers = (ws: Window[]) => ws.reduce((a, w) => a + w.answered, 0) / ws.reduce((a, w) => a + w.seconds, 0);
  // This process's CPU (handlers, emulators and clients alike) per answered attempt: what each
  // side's refusals, which fill the rounds, cost the one process both sides share.
  const cpuPerAnswer = (ws: Window[]) => ws.reduce((a, w) => a + w.cpuMs, 0) / ws.reduce((a, w) => a + w.answered, 0);
  const statuses: Record<number, number> = {};
  for (const w of tg) for (const [k, v] of Object.entries(w.statuses)) statuses[+k] = (statuses[+k] ?? 0) + v;
  const roundRatios = tg.map((w, i) => (w.accepted / w.seconds) / (lk[i]!.accepted / lk[i]!.seconds));
  return {
    clients, rounds, secondsPerRound: seconds,
    taskgate: { acceptedPerS: rate(tg), answersPerS: answers(tg), answers: statuses, cpuMsPerAnswer: cpuPerAnswer(tg) },
    lockItem: { acceptedPerS: rate(lk), answersPerS: answers(lk), cpuMsPerAnswer: cpuPerAnswer(lk) },
    ratio: rate(tg) / rate(lk), roundRatios, medianRoundRatio: median(roundRatios),
  };
}

async function contention(h: Harness) {
  const bar = progress('contention', 6);
  const many = await compareUnderContention(h, 64, SIZE.contentionRounds, SIZE.contentionS);
  bar.tick();
  const loadBefore = loadavg()[0]!;
  const few = await compareUnderContention(h, 4, SIZE.contentionRounds, SIZE.contentionS);
  bar.tick();
  const loadBeforeBusy = loadavg()[0]!;
  const busy = await withBusyNeighbours(2, () => compareUnderContention(h, 4, SIZE.contentionRounds, SIZE.contentionS));
  bar.tick();
  const chain = await oneAtATime(h);
  bar.tick();
  // The same chain with the machine busy: how much longer each side's cycle gets explains the ratio.
  const busyChain = await withBusyNeighbours(2, () => oneAtATime(h));
  const raw = h.table('floor');
  const rawKey = { pk: 'RAW#1', sk: 'META' };
  const rw = await measureWindow(64, SIZE.contentionS, async () => {
    try {
      await raw.db.send(new UpdateCommand({
        TableName: raw.name, Key: rawKey, UpdateExpression: 'ADD version :one',
        ConditionExpression: 'attribute_not_exists(version) OR version < :max', ExpressionAttributeValues: { ':one': 1, ':max': 1e12 },
      }));
      return 202;
    } catch (err) { if (isConditionFailure(err)) return 409; throw err; }
  }, async () => undefined);
  bar.done();
  const c = { workMs: WORK_MS, many, few, fewBesideTwoBusyProcesses: busy, loadAverageBefore: loadBefore, loadAverageBeforeBusy: loadBeforeBusy, rawConditionalWritesPerS: rw.answered / rw.seconds, oneAtATime: chain, oneAtATimeBusy: busyChain };
  results.contention = c;
  const line = (r: typeof many, beside = '') => {
    const spread = `spread ${Math.min(...r.roundRatios).toFixed(2)}-${Math.max(...r.roundRatios).toFixed(2)}, median ${r.medianRoundRatio.toFixed(2)}`;
    say(`${String(r.clients).padStart(2)} clients${beside}: taskgate ${r.taskgate.acceptedPerS.toFixed(1)} ops/s (answered ${r.taskgate.answersPerS.toFixed(0)} req/s), `
      + `lock item ${r.lockItem.acceptedPerS.toFixed(1)} ops/s (answered ${r.lockItem.answersPerS.toFixed(0)} req/s): `
      + `ratio ${r.ratio.toFixed(2)} (target >= 0.5); by round ${r.roundRatios.map((x) => x.toFixed(2)).join(' ')} (${spread}); `
      + `taskgate's answers ${JSON.stringify(r.taskgate.answers)}; this process's CPU per answer: taskgate ${ms(r.taskgate.cpuMsPerAnswer)}, `
      + `lock item ${ms(r.lockItem.cpuMsPerAnswer)}`);
  };
  say(`## One instance under contention, ${WORK_MS} ms work per operation, ${SIZE.contentionRounds} interleaved rounds of ${SIZE.contentionS} s each`);
  line(many);
  line(few, ` (load average ${loadBefore.toFixed(1)} before)`);
  line(busy, `, two CPU-bound processes beside (load average ${loadBeforeBusy.toFixed(1)} before)`);
  say(`emulator's raw conditional UpdateItem on one item, 64 clients: ${c.rawConditionalWritesPerS.toFixed(0)} writes/s`);
  say(`why: one operation at a time, uncontended (median of ${chain.samples}): taskgate ${ms(chain.taskgateCycle)} from the request to the end `
    + `of its work (${chain.taskgateRequests} requests from its handlers: claim, send; take-up (its run item's write and the instance's read, side by side), `
    + `release, action record; and the event source mapping's receive and delete), `
    + `lock item ${ms(chain.lockCycle)} (2: put, delete); a refusal costs taskgate ${ms(chain.taskgateRefusal)} `
    + `(the API handler and the failed claim) and the lock item ${ms(chain.lockRefusal)} (a failed put)`);
  say(`the same with two CPU-bound processes beside: taskgate ${ms(busyChain.taskgateCycle)} (x${(busyChain.taskgateCycle / chain.taskgateCycle).toFixed(2)}), `
    + `lock item ${ms(busyChain.lockCycle)} (x${(busyChain.lockCycle / chain.lockCycle).toFixed(2)}); a refusal: taskgate ${ms(busyChain.taskgateRefusal)}, `
    + `lock item ${ms(busyChain.lockRefusal)}; uncontended ratio lock / taskgate cycle: idle ${(chain.lockCycle / chain.taskgateCycle).toFixed(2)}, `
    + `busy ${(busyChain.lockCycle / busyChain.taskgateCycle).toFixed(2)}`);
  say();
}

/**
 * The per-instance chain without contention: one client, each operation sent once the previous
 * one's work has ended (taskgate: the request, then the worker's run, timed to the end of its work;
 * the lock item: put, work, delete), and what one refusal costs each, with the instance held.
 */
async function oneAtATime(h: Harness) {
  const samples = Math.max(20, SIZE.samples / 10);
  const [id] = await seedServers(h.table('setup'), 1);
  const reboot = () => h.api('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
  const compute = h.startCompute(4);
  const tg: number[] = [];
  for (let i = 0; i < samples; i++) {
    const before = h.history.intervals.length;
    const t = performance.now();
    while ((await reboot()).statusCode !== 202) { /* the previous release is on its way */ }
    await h.history.recorded(before + 1);
    tg.push(performance.now() - t);
  }
  await compute.stop();
  const lock = lockItemPeer(h.table('peer'), h.history, WORK_MS);
  const lk: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await lock.attempt({ instanceId: `chain-${id}`, op: 'reboot', requestId: `chain-${i}` });
    lk.push(performance.now() - t);
  }
  // The requests of one operation on taskgate's handlers (the event source mapping's receive and
  // delete come on top), counted.
  h.counter.reset();
  if ((await reboot()).statusCode !== 202) throw new Error('the instance should have been idle');
  await h.drain();
  const taskgateRequests = total(h.counter.take('api')) + total(h.counter.take('compute'));
  // Refusals: taskgate's instance stays claimed (nothing runs it); the lock item stays held.
  if ((await reboot()).statusCode !== 202) throw new Error('the instance should have been idle');
  let release: (() => void) | undefined;
  const tgRefusal: number[] = [];
  const lockRefusal: number[] = [];
  // A holder whose work ends when this function says so: its lock item stays taken until then.
  const gated = { record: (_i: string, _o: string, work: () => Promise<unknown>) => new Promise((r) => { release = () => r(work()); }) };
  const holder = lockItemPeer(h.table('peer'), gated as unknown as History, 0);
  const holdingLock = holder.attempt({ instanceId: `refuse-${id}`, op: 'reboot', requestId: 'holder' });
  while (!release) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < samples; i++) {
    let t = performance.now();
    if ((await reboot()).statusCode !== 409) throw new Error('a claimed instance should refuse');
    tgRefusal.push(performance.now() - t);
    t = performance.now();
    if ((await lock.attempt({ instanceId: `refuse-${id}`, op: 'reboot', requestId: `refused-${i}` })) !== 'refused') throw new Error('a held lock should refuse');
    lockRefusal.push(performance.now() - t);
  }
  release!();
  await holdingLock;
  await h.drain();
  return {
    samples, taskgateCycle: median(tg), lockCycle: median(lk), taskgateRequests,
    taskgateRefusal: median(tgRefusal), lockRefusal: median(lockRefusal),
  };
}

// 5. 1, 10, 100, 1000 instances: accepted operations/s and requests per operation.
async function scale(h: Harness) {
  const setup = h.table('setup');
  const rows: { instances: number; acceptedPerS: number; apiPerAttempt: number; computePerAccepted: number }[] = [];
  for (const n of SIZE.scale) {
    const ids = await seedServers(setup, n);
    for (const p of ['api', 'compute', 'esm']) h.counter.take(p);
    const compute = h.startCompute(4);
    const before = h.history.intervals.length;
    let attempts = 0;
    let accepted = 0;
    let k = 0;
    const t = performance.now();
    const deadline = t + SIZE.scaleS * 1000;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (performance.now() < deadline) {
        const res = await h.api('POST', `/servers/${ids[k++ % ids.length]}/action`, { reboot: { type: 'SOFT' } });
        attempts++;
        if (res.statusCode === 202) accepted++;
      }
    }));
    await h.history.recorded(before + accepted);
    const seconds = (performance.now() - t) / 1000;
    await compute.stop();
    const api = total(h.counter.take('api'));
    const comp = total(h.counter.take('compute'));
    h.counter.take('esm');
    rows.push({ instances: n, acceptedPerS: accepted / seconds, apiPerAttempt: api / attempts, computePerAccepted: comp / Math.max(1, accepted) });
  }
  results.scale = rows;
  say('## Instances: 16 clients sending soft reboots round-robin');
  say('instances  accepted ops/s  API req/attempt  compute req/accepted');
  for (const r of rows) {
    say(`${String(r.instances).padStart(9)}  ${r.acceptedPerS.toFixed(1).padStart(14)}  ${r.apiPerAttempt.toFixed(2).padStart(15)}  ${r.computePerAccepted.toFixed(2).padStart(20)}`);
  }
  say();
}

// 6. Cold start: each function built as the stack builds it, its size and module initialisation in fresh Node processes (coldStart.ts).
async function coldStart() {
  const bar = progress('cold start', HANDLERS.length);
  const rows = await measureColdStarts(SIZE.coldRuns, () => bar.tick());
  bar.done();
  results.coldStart = rows;
  say('## Cold start: each function as lib/functionBundle.ts builds it (minified ESM, chunks loaded on first use, source maps), module initialisation in fresh Node processes');
  for (const line of coldStartLines(rows, SIZE.coldRuns)) say(line);
  say();
}

// TASKGATE_DYNAMODB_ENDPOINT (as scripts/with-dynamodb-local.sh sets it) puts the table on that
// DynamoDB instead of dynalite: DynamoDB Local returns the old item with a failed write, as DynamoDB does.
const dynamodbEndpoint = process.env.TASKGATE_DYNAMODB_ENDPOINT;
const h = await startHarness({ workMs: WORK_MS, emulatorThread, dynamodbEndpoint });
try {
  say(`taskgate bench (${quick ? 'quick' : 'full'}, seed ${SEED}${emulatorThread ? ', emulators on a worker thread' : ''}`
    + `${dynamodbEndpoint ? `, DynamoDB at ${dynamodbEndpoint}` : ''}) on ${cpus().length} x ${cpus()[0]?.model}, `
    + `Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  say();
  if (runs('headline')) await headline(h);
  if (runs('requests')) await requestsPerOperation(h);
  if (runs('costs')) await costs();
  const peerFigures = runs('peers') ? await peers(h) : [];
  if (runs('contention')) await contention(h);
  if (runs('scale')) await scale(h);
  if (runs('coldstart')) await coldStart();
  if (!only) writeResults(peerFigures);
} finally {
  await h.stop();
}

function writeResults(peerFigures: Awaited<ReturnType<typeof peers>>) {
  const dir = join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const name = quick ? 'quick' : 'full';
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, `${name}.txt`), `${lines.join('\n')}\n`);
  const head = results.headline as { floor: { median: number; p99: number }; full: { median: number; p99: number } };
  writeFileSync(join(dir, `${name}.svg`), barChartSvg(`taskgate bench (${quick ? 'quick' : 'full'}, seed ${SEED})`, '', [
    { name: 'Admission latency, ms (median)', bars: [
      { label: 'floor: UpdateItem + SendMessage', value: head.floor.median },
      { label: 'full admission (API handler)', value: head.full.median },
    ] },
    { name: 'Accepted operations/s (same workload)', bars: peerFigures.map((f) => ({ label: f.name, value: f.opsPerS, note: `violations ${f.violations}` })) },
    { name: 'Requests per accepted operation', bars: peerFigures.map((f) => ({ label: f.name, value: f.requestsPerAccepted })) },
  ]));
  say(`wrote bench/results/${name}.json, ${name}.txt, ${name}.svg`);
}
