import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, type Message,
} from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { createApi } from '../../functions/api/app.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';
import { createComputeHandler } from '../../functions/compute/batch.js';
import { parseOperationMessage, sqsOperationQueue } from '../../functions/core/compute/queue.js';
import { seedHosts } from '../../functions/core/placement/hosts.js';
import { NO_VALID_HOST } from '../../functions/core/placement/scheduler.js';
import type { ComputeHostConfig } from '../../functions/core/shared/config.js';
import { SimulatedDriver } from '../../functions/core/compute/simulatedDriver.js';
import { sweepExpiredClaims } from '../../functions/core/compute/sweeper.js';
import { makeTable, type Table } from '../../functions/core/shared/table.js';
import { createDeadLetterHandler } from '../../functions/dlq/batch.js';
import { logger } from '../../functions/observability/index.js';
import { serveApi, type ProxyHandler } from '../../local/apiGateway.js';
import { startEmulators } from '../../local/emulators.js';
import {
  addDynamoFaults, FaultLog, FaultyQueue, faultyDriver, runAs, SeededRandom, type DriverFault, type QueueFaultRates,
} from '../support/faults/index.js';
import { checkHistory, type Violation } from '../support/history/checker.js';
import type { HistoryEvent } from '../support/history/events.js';
import { HistoryRecorder } from '../support/history/recorder.js';
import { Cinder } from '../support/volumes.js';
import { IMAGE, Nova } from '../support/nova.js';
import { ACTION_BODIES, ADMIN_KINDS, WEIGHTS } from './kinds.js';
import { seedPort } from '../support/networks.js';

// The chaos run: the real API, compute, dead-letter and sweeper handlers on dynalite and
// fauxqs over HTTP, a seeded random workload from many clients on shared instances, volumes
// and ports, every fault of test/support/faults mixed in; then quiescence (faults off, the
// queues drained, the sweeper driven on a clock the run controls), then the history checker.
// Placement is under pressure too: a few small hosts, a project quota the workload reaches, and
// creates into an anti-affinity group, so that "no host over capacity", "no quota over its
// limit" and "no anti-affinity group sharing a host" each have writes to check.

export interface ChaosOptions {
  readonly seed: number;
  readonly operations: number;
  readonly clients?: number;
  readonly instances?: number;
  readonly volumes?: number;
  readonly ports?: number;
  /** Scales every fault rate (1 = the defaults below, 0 = no faults). */
  readonly faultLevel?: number;
  /** The compute hosts (default CHAOS_HOSTS). */
  readonly hosts?: readonly ComputeHostConfig[];
  /** The workload's project's quota (default CHAOS_QUOTA; -1 is unlimited). */
  readonly quota?: { readonly instances: number; readonly cores: number; readonly ram: number };
  /** The share of creates asked into the run's anti-affinity server group (default 0.3). */
  readonly groupShare?: number;
}

/** What the run put placement through, and how much each placement invariant had to check. */
export interface PlacementFigures {
  readonly hosts: number;
  /** Operations (creates, resizes) that ended in Nova's NoValidHost: no host with room, or none the group allows. */
  readonly noValidHost: number;
  /** Creates refused 403 by the project's quota. */
  readonly quotaRefusals: number;
  /** Creates asked into the anti-affinity group. */
  readonly groupCreates: number;
  /** Writes the three checkers replayed: host items (capacity), usage items (quota), group members placed (anti-affinity). */
  readonly checked: { readonly hostWrites: number; readonly usageWrites: number; readonly groupMembersPlaced: number };
}

export interface ChaosReport {
  readonly seed: number;
  readonly operations: number;
  readonly requestsByOp: Record<string, number>;
  readonly answers: Record<string, number>;
  readonly faults: Record<string, number>;
  readonly outcomes: Record<string, number>;
  readonly violations: Violation[];
  /** Reservations given back by the sweeper or a later attach after their request died unclaimed. */
  readonly reservationsReclaimed: number;
  /** Keyed requests whose answer was lost (API killed, 5xx), retried with their key after its window. */
  readonly keyedRetriesAfterLoss: number;
  readonly placement: PlacementFigures;
  readonly quiescent: boolean;
  readonly historyEvents: number;
  readonly seconds: number;
  /** The whole recorded history, for a closer look at a violation. */
  readonly history: readonly HistoryEvent[];
}

const SWEEP_MS = 500;
const CLAIM_LEASE_MS = 6_000;
const RUN_LEASE_MS = 3_000;
/** Past any API request of the run; a claim answered later is given back (admission.ts). */
const RESERVATION_LEASE_MS = 2_000;
/**
 * An Idempotency-Key's in-progress window: a retry after it takes over from a request that died
 * holding the key. Deployed it is at least 30 s, past any API invocation; here API invocations
 * live milliseconds, and the window is short enough for clients to retry within the run.
 */
const KEY_IN_PROGRESS_S = 2;

/** Default chances, per request / delivery / driver step / DynamoDB call. */
const RATES = {
  apiKill: 0.02, workerKill: 0.04, deliveryDuplicate: 0.03, throttle: 0.005,
  driverFail: 0.02, driverCrash: 0.01, driverHang: 0.03,
  queue: { sendFailure: 0.02, drop: 0.02, delay: 0.03, duplicate: 0.03 } satisfies QueueFaultRates,
};

/**
 * Four hosts that fit a handful of servers each: three m1.tiny, or one m1.medium and one m1.tiny
 * (the resizes' largest flavor), so creates and resizes find hosts full.
 */
export const CHAOS_HOSTS: readonly ComputeHostConfig[] = Array.from({ length: 4 }, (_, i) => ({
  name: `chaos-host-${i + 1}`, zone: 'nova', vcpus: 3, ram: 6144, disk: 60,
}));
/**
 * What the hosts hold in m1.tiny (12), so that the creates, which outnumber the deletes that
 * succeed, reach it early: a server in ERROR counts until it is deleted, as in Nova. The hosts
 * are full before it all the same: the first servers' m1.medium take two of each host's three vCPUs.
 */
export const CHAOS_QUOTA = { instances: 12, cores: 20, ram: -1 };

const count = (into: Record<string, number>, key: string) => { into[key] = (into[key] ?? 0) + 1; };

/** What each placement checker had to look at in the history, and the operations that ended NoValidHost (their action records at rest). */
function placementChecked(history: readonly HistoryEvent[]) {
  let hostWrites = 0;
  let usageWrites = 0;
  const members = new Set<string>();
  for (const e of history) {
    // What the checkers replay: successful writes with the item they left.
    if (e.kind !== 'write' || !e.ok || !e.after) continue;
    if (e.pk === 'HOSTS' && e.sk.startsWith('HOST#')) hostWrites++;
    if (e.pk.startsWith('SERVERUSAGE#') && e.sk === 'META') usageWrites++;
    if (e.pk.startsWith('INSTANCE#') && e.sk === 'META' && e.after.serverGroupId && e.after.host) members.add(e.pk);
  }
  const final = history.find((e) => e.kind === 'final')?.items ?? [];
  const noValidHost = final.filter((i) => String(i.sk).startsWith('ACTION#') && JSON.stringify(i).includes(NO_VALID_HOST)).length;
  return { checked: { hostWrites, usageWrites, groupMembersPlaced: members.size }, noValidHost };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const began = Date.now();
  const random = new SeededRandom(options.seed);
  const level = options.faultLevel ?? 1;
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  const recorder = new HistoryRecorder(clock);
  const log = new FaultLog((kind, detail) => recorder.fault(kind, detail));
  const faultsOn = { value: level > 0 };

  const emulators = await startEmulators({ visibilityTimeoutSeconds: 1, maxReceiveCount: 4 });
  const hosts = options.hosts ?? CHAOS_HOSTS;
  const clientFor = (): Table => makeTable(emulators.tableName, new DynamoDBClient({
    endpoint: emulators.dynamodbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'taskgate', secretAccessKey: 'taskgate' },
    maxAttempts: 1,
  }));
  const dynamoFaults = { random: random.fork('dynamodb'), log, throttleRate: RATES.throttle * level };
  const [apiTable, workerTable, opsTable] = [clientFor(), clientFor(), clientFor()];
  for (const t of [apiTable, workerTable, opsTable]) {
    addDynamoFaults(t.db, dynamoFaults);
    recorder.attach(t.db);
  }
  const harnessTable = clientFor();
  // The hosts before anything asks for them (else the configured ones are seeded on first read).
  await seedHosts(harnessTable, hosts);

  const queueRates: QueueFaultRates = {
    sendFailure: RATES.queue.sendFailure * level, drop: RATES.queue.drop * level,
    delay: RATES.queue.delay * level, duplicate: RATES.queue.duplicate * level,
  };
  const queue = new FaultyQueue(sqsOperationQueue(emulators.sqs, emulators.queueUrl), {
    random: random.fork('queue'), log, rates: queueRates, maxDelayMs: 1_500,
    sendDuplicate: async (message) => {
      await emulators.sqs.send(new SendMessageCommand({
        QueueUrl: emulators.queueUrl, MessageBody: JSON.stringify(message),
        MessageGroupId: message.instanceId, MessageDeduplicationId: `${message.requestId}-duplicate`,
      }));
    },
  });

  const apiRandom = random.fork('api');
  const api = createApi({
    table: apiTable, queue, claimLeaseMs: CLAIM_LEASE_MS, reservationLeaseMs: RESERVATION_LEASE_MS, now: clock, idempotency: { ttlSeconds: 3600, inProgressSeconds: KEY_IN_PROGRESS_S },
  }, { identity: new NoauthIdentityProvider() });
  const served = await serveApi(((event, context) => {
    const kill = faultsOn.value && apiRandom.chance(RATES.apiKill * level)
      ? { write: apiRandom.between(1, 4), when: apiRandom.chance(0.5) ? 'before' as const : 'after' as const } : undefined;
    return runAs({ role: 'api', killAt: kill }, () => api(event as never, context as never));
  }) as ProxyHandler, 0);

  // The worker: the real compute handler, one delivery per invocation so faults know whose it is.
  const driverRandom = random.fork('driver');
  const driver = faultyDriver(new SimulatedDriver(workerTable, { stepMs: 0 }), {
    log, onStep: (e) => recorder.step(e),
    faultAt: (): DriverFault | undefined => {
      if (!faultsOn.value) return undefined;
      if (driverRandom.chance(RATES.driverFail * level)) return { kind: 'fail' };
      if (driverRandom.chance(RATES.driverCrash * level)) return { kind: 'crash' };
      if (driverRandom.chance(RATES.driverHang * level)) return { kind: 'hang', ms: driverRandom.between(100, 1_500) };
      return undefined;
    },
  });
  const compute = createComputeHandler({ table: workerTable, driver, runLeaseMs: RUN_LEASE_MS, claimLeaseMs: CLAIM_LEASE_MS, now: clock });
  const deadLetters = createDeadLetterHandler(opsTable, clock);
  const workerRandom = random.fork('worker');

  let running = true;
  const toRecord = (m: Message): SQSRecord => ({
    messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1', SentTimestamp: '0', SenderId: 'chaos',
      ApproximateFirstReceiveTimestamp: '0', MessageGroupId: m.Attributes?.MessageGroupId,
    },
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:chaos', awsRegion: 'us-east-1',
  });
  const poll = async (queueUrl: string, invoke: (record: SQSRecord) => Promise<SQSBatchResponse>) => {
    while (running) {
      let messages: Message[] = [];
      try {
        messages = (await emulators.sqs.send(new ReceiveMessageCommand({
          QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'],
        }))).Messages ?? [];
      } catch { /* the emulator is stopping */ }
      if (messages.length === 0) { await sleep(30); continue; }
      const groups = new Map<string, Message[]>();
      for (const m of messages) {
        const g = m.Attributes?.MessageGroupId ?? m.MessageId!;
        groups.set(g, [...(groups.get(g) ?? []), m]);
      }
      await Promise.all([...groups.values()].map(async (group) => {
        for (const m of group) {
          const out = await invoke(toRecord(m)).catch(() => ({ batchItemFailures: [{ itemIdentifier: m.MessageId! }] }));
          if (out.batchItemFailures.length > 0) return; // the rest of the group waits, as Lambda's mapping does
          if (faultsOn.value && queueUrl === emulators.queueUrl && workerRandom.chance(RATES.deliveryDuplicate * level)) {
            log.note('delivery.duplicate', { messageId: m.MessageId });
            return; // not deleted: delivered again after the visibility timeout
          }
          await emulators.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! })).catch(() => undefined);
        }
      }));
    }
  };
  const invokeCompute = async (record: SQSRecord) => {
    let msg;
    try { msg = parseOperationMessage(record.body); } catch { return compute({ Records: [record] }); }
    const kill = faultsOn.value && workerRandom.chance(RATES.workerKill * level)
      ? { write: workerRandom.between(1, 6), when: workerRandom.chance(0.5) ? 'before' as const : 'after' as const } : undefined;
    return runAs({ role: 'worker', requestId: msg.requestId, instanceId: msg.instanceId, token: msg.token, killAt: kill },
      () => compute({ Records: [record] }));
  };
  const pollers = [
    ...Array.from({ length: 4 }, () => poll(emulators.queueUrl, invokeCompute)),
    poll(emulators.deadLetterQueueUrl, (record) => runAs({ role: 'dlq' }, () => deadLetters({ Records: [record] }))),
  ];
  let maxSweepMs = 0;
  let sweeping = true;
  const sweep = async () => {
    const t = Date.now();
    await runAs({ role: 'sweeper' }, () => sweepExpiredClaims(opsTable, clock())).catch(() => undefined);
    maxSweepMs = Math.max(maxSweepMs, Date.now() - t);
  };
  const sweeper = (async () => {
    while (sweeping) { await sleep(SWEEP_MS); if (sweeping) await sweep(); }
  })();

  // The handlers log every crash they survive; in a chaos run those are the point, not news.
  const consoleError = console.error;
  console.error = () => undefined;
  const logLevel = logger.getLevelName();
  logger.setLogLevel('SILENT');

  const requestsByOp: Record<string, number> = {};
  const answers: Record<string, number> = {};
  let keyedRetriesAfterLoss = 0;
  let quotaRefusals = 0;
  let groupCreates = 0;
  try {
    // The workload.
    const clients = options.clients ?? 8;
    const volumes: string[] = [];
    // Ports are Neutron's: made (outside the faults) before any client asks Nova to attach one.
    const ports = await Promise.all(Array.from({ length: options.ports ?? 6 }, () => seedPort(harnessTable, 'demo')));
    const pool: string[] = [];
    const base = `${served.url}/v2.1`;
    const tokens = ['alice:demo', 'bob:demo'];
    const send = async (client: Nova, op: string, method: string, path: string, body?: unknown, key?: string, instanceId?: string) => {
      const start = clock();
      const res = await client.request(method, path, body, key ? { 'Idempotency-Key': `"${key}"` } : {})
        .catch((err: Error) => ({ status: 599, body: { error: err.message }, headers: new Headers() }));
      recorder.request({
        client: client.token, op, instanceId, method, path, body, idempotencyKey: key, start, end: clock(),
        status: res.status, requestId: res.headers.get('x-openstack-request-id') ?? undefined, answer: res.body,
      });
      count(requestsByOp, op);
      count(answers, String(res.status));
      if (op === 'create' && res.status === 403) quotaRefusals++;
      return res;
    };
    const seedNova = new Nova(base, tokens[0]);
    /** A set-up request, sent again while faults (a killed API, a throttle) make it fail. */
    const setUp = async (what: string, nova: Nova, method: string, path: string, body: unknown) => {
      for (let attempt = 1; ; attempt++) {
        const res = await nova.request(method, path, body);
        if (res.status === 200) return res;
        if (attempt >= 10) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    };
    // A quota the workload reaches (its creates outnumber its deletes), so that creates are refused.
    await setUp('quota update', seedNova.as('admin:admin'), 'PUT', '/os-quota-sets/demo', { quota_set: options.quota ?? CHAOS_QUOTA });
    // One anti-affinity group: its members never share a host, so at most one per host is placed.
    const group = await setUp('server group', seedNova, 'POST', '/os-server-groups', { server_group: { name: 'chaos-spread', policies: ['anti-affinity'] } });
    const groupId = group.body.server_group.id as string;
    const groupShare = options.groupShare ?? 0.3;
    const createBody = (name: string, inGroup: boolean, flavorRef = '1') => {
      if (inGroup) groupCreates++;
      return { server: { name, flavorRef, imageRef: IMAGE }, ...(inGroup ? { 'os:scheduler_hints': { group: groupId } } : {}) };
    };
    // Volumes are Cinder's: made through its API before any attach names them.
    const cinder = new Cinder(served.url, tokens[0]!, 'demo');
    // (Faults are on: a create answered 503 or killed is sent again, as the set-up requests above.)
    const createVolume = async (): Promise<string> => {
      for (let attempt = 1; ; attempt++) {
        try { return await cinder.create(); } catch (err) { if (attempt >= 10) throw err; }
      }
    };
    for (let i = 0; i < (options.volumes ?? 6); i++) volumes.push(await createVolume());
    // The first servers all at once, so that the workers place them side by side: half m1.medium
    // (a host holds one), half members of the anti-affinity group (a host holds one), more of each
    // than there are hosts once there are more than eight. Racing schedulers read the same free
    // room and group counts; only the conditional write on the host decides.
    // More than the quota admits, so that the run always presses it (what the rest of the workload
    // reaches depends on how fast the workers go: beside other work, a seed once drew no refusal).
    const quota = options.quota ?? CHAOS_QUOTA;
    const firstCount = Math.max(options.instances ?? 12, quota.instances >= 0 ? quota.instances + 4 : 0);
    const first = await Promise.all(Array.from({ length: firstCount }, (_, i) => {
      const member = i % 2 === 0 && groupShare > 0;
      return send(seedNova, 'create', 'POST', '/servers', createBody(`chaos-${i}`, member, member ? '1' : '3'));
    }));
    for (const res of first) if (res.status === 202) pool.push(res.body.server.id);

    let remaining = options.operations;
    const clientLoop = async (c: number) => {
      const r = random.fork(`client-${c}`);
      const nova = new Nova(base, tokens[c % tokens.length]);
      // The project's administrator, for the moves (the checker's project is the members').
      const admin = nova.as('admin:demo');
      while (remaining-- > 0) {
        const kind = r.weighted(WEIGHTS);
        const id = pool.length > 0 ? r.pick(pool) : undefined;
        if (kind !== 'create' && !id) continue;
        let method = 'POST';
        let path: string;
        let body: unknown;
        if (kind === 'create') { path = '/servers'; body = createBody(`chaos-c${c}`, r.chance(groupShare)); }
        else if (kind === 'delete') { method = 'DELETE'; path = `/servers/${id}`; }
        else if (kind === 'resize') { path = `/servers/${id}/action`; body = { resize: { flavorRef: r.pick(['1', '2', '3']) } }; }
        else if (kind === 'attach_volume') { path = `/servers/${id}/os-volume_attachments`; body = { volumeAttachment: { volumeId: r.pick(volumes) } }; }
        else if (kind === 'detach_volume') { method = 'DELETE'; path = `/servers/${id}/os-volume_attachments/${r.pick(volumes)}`; }
        else if (kind === 'attach_interface') { path = `/servers/${id}/os-interface`; body = { interfaceAttachment: { port_id: r.pick(ports) } }; }
        else if (kind === 'detach_interface') { method = 'DELETE'; path = `/servers/${id}/os-interface/${r.pick(ports)}`; }
        else { path = `/servers/${id}/action`; body = ACTION_BODIES[kind]; }
        const key = r.chance(0.5) ? crypto.randomUUID() : undefined;
        const caller = ADMIN_KINDS.has(kind) ? admin : nova;
        const first = send(caller, kind, method, path, body, key, id);
        // Some keyed requests are retried at once (a client that timed out), some after the answer.
        const concurrentRetry = key && r.chance(0.15) ? send(caller, kind, method, path, body, key, id) : undefined;
        let res = await first;
        await concurrentRetry;
        if (key && res.status >= 500) {
          // Its answer lost (the API killed, or a 503): the client retries with the same key once
          // the key's window has passed, as a client that lost a connection does.
          await sleep(KEY_IN_PROGRESS_S * 1000 + 100);
          keyedRetriesAfterLoss++;
          res = await send(caller, kind, method, path, body, key, id);
        } else if (key && r.chance(0.15)) await send(caller, kind, method, path, body, key, id);
        if (kind === 'create' && res.status === 202) pool.push(res.body.server.id);
        if (kind === 'delete' && res.status === 204 && pool.includes(id!)) pool.splice(pool.indexOf(id!), 1);
        await sleep(r.int(20));
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, c) => clientLoop(c)));

    // Quiescence: faults off, late sends out, queues drained, leases run out on the run's clock.
    faultsOn.value = false;
    dynamoFaults.throttleRate = 0;
    Object.assign(queueRates, { sendFailure: 0, drop: 0, delay: 0, duplicate: 0 });
    await queue.flush();
    sweeping = false;
    await sweeper;
    const quiescent = await settle(emulators, harnessTable, async () => {
      offsetMs += SWEEP_MS;
      await sweep();
    });
    running = false;
    await Promise.all(pollers);

    const items = await scanAll(harnessTable);
    recorder.add({ kind: 'final', at: clock(), items });
    const outcomes: Record<string, number> = {};
    for (const i of items) if (String(i.sk).startsWith('ACTION#')) count(outcomes, `${i.action}:${i.result ?? 'unfinished'}`);
    // "One sweep" in a loop that sleeps SWEEP_MS and then sweeps: a lease that runs out while a
    // sweep is under way, after that sweep's query went past it, is released by the next sweep,
    // which starts SWEEP_MS after the current one ends and takes up to maxSweepMs itself. So the
    // bound is SWEEP_MS plus two sweeps' durations (plus scheduling slack), not one.
    const violations = checkHistory(recorder.events, { sweepIntervalMs: SWEEP_MS, sweepSlackMs: 2 * maxSweepMs + 250 });
    if (!quiescent) violations.push({ invariant: 'terminal', message: 'the run did not come to rest: claims or messages were left' });
    const reservationsReclaimed = recorder.events.filter((e) => e.kind === 'write' && e.ok && /^(VOLUME|PORT)#/.test(e.pk)
      && e.values?.[':leaseBefore'] !== undefined).length;
    const placement = { hosts: hosts.length, quotaRefusals, groupCreates, ...placementChecked(recorder.events) };
    return {
      seed: options.seed, operations: options.operations, requestsByOp, answers, faults: log.summary(),
      outcomes, violations, reservationsReclaimed, keyedRetriesAfterLoss, placement, quiescent, historyEvents: recorder.events.length, history: recorder.events, seconds: Math.round((Date.now() - began) / 1000),
    };
  } finally {
    console.error = consoleError;
    logger.setLogLevel(logLevel);
    running = false;
    sweeping = false;
    await Promise.allSettled(pollers);
    await new Promise<void>((resolve) => served.server.close(() => resolve()));
    served.server.closeAllConnections?.();
    for (const t of [apiTable, workerTable, opsTable, harnessTable]) t.db.destroy();
    await emulators.stop();
  }
}

/**
 * Until both queues are empty and nothing is left on the lease index (no claim, no reservation
 * waiting for its claim); each idle round moves the clock one sweep on.
 */
async function settle(
  emulators: Awaited<ReturnType<typeof startEmulators>>, table: Table, tick: () => Promise<void>,
): Promise<boolean> {
  const depth = async (url: string) => {
    const a = (await emulators.sqs.send(new GetQueueAttributesCommand({
      QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }))).Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  };
  for (let round = 0; round < 600; round++) {
    const [main, dead] = [await depth(emulators.queueUrl), await depth(emulators.deadLetterQueueUrl)];
    const claims = (await scanAll(table)).filter((i) => i.sk === 'META' && (i.taskState !== undefined || i.leaseShard !== undefined)).length;
    if (main === 0 && dead === 0 && claims === 0) return true;
    await tick();
    await sleep(100);
  }
  return false;
}

async function scanAll(table: Table): Promise<Record<string, any>[]> {
  const items: Record<string, any>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new ScanCommand({ TableName: table.name, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}
