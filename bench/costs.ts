import { PRICES } from './prices.js';
import { emptyBill, writeUnitsOf, type Bill } from './capacityMeter.js';
import type { Harness } from './harness.js';
import type { Invocations } from './lambdaMeter.js';
import { lockItemPeer, idempotencyPeer, naivePeer, type Peer } from './peers.js';
import { History } from './history.js';
import { DEFAULT_MEMORY_MB } from '../lib/taskgateFunction.js';
import { seedVolume } from '../test/support/volumes.js';
import { seedPort } from '../test/support/networks.js';

// What one operation costs on AWS, end to end, from what the handlers really sent: DynamoDB
// units (table and each index, capacityMeter.ts), SQS requests (admission's send, the event source
// mapping's receive and delete), Lambda invocations and their measured duration at the stack's
// memory, one API Gateway request. Each operation runs alone, as a client with Keystone-shaped ids
// (32 hex characters) makes it, on a server created through the API.

export interface OperationCost {
  operation: string;
  status: number;
  tableWriteUnits: number;
  indexWriteUnits: Record<string, number>;
  writeUnits: number;
  readUnits: number;
  sqsRequests: number;
  lambda: { invocations: number; billedMs: number; cpuMs: number };
  /** The same, per function. */
  lambdaByFunction: { api: Invocations; compute: Invocations };
  apiRequests: number;
  /** Dollars per million operations, by service, with the REST API (the stack's default). */
  dollarsPerMillion: { dynamodb: number; sqs: number; lambda: number; apiGateway: number; total: number; totalWithHttpApi: number };
  /** The emulator's table units against the meter's, for the same successful writes; and its index units, where it reports them. */
  emulatorAgrees: boolean;
  emulatorReportsIndexes: boolean;
}

const PATHS = ['api', 'compute', 'esm'] as const;
const hex = () => crypto.randomUUID().replaceAll('-', '');

function add(a: Bill, b: Bill): Bill {
  const summed = (x: Record<string, number>, y: Record<string, number>) => {
    const sum = { ...x };
    for (const [k, v] of Object.entries(y)) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  };
  return {
    tableWriteUnits: a.tableWriteUnits + b.tableWriteUnits, readUnits: a.readUnits + b.readUnits,
    indexWriteUnits: summed(a.indexWriteUnits, b.indexWriteUnits), indexKeyWriteUnits: summed(a.indexKeyWriteUnits, b.indexKeyWriteUnits),
    tableKeyWriteUnits: summed(a.tableKeyWriteUnits, b.tableKeyWriteUnits),
    sqsRequests: a.sqsRequests + b.sqsRequests, writes: a.writes + b.writes, unmetered: a.unmetered + b.unmetered,
    emulatorTableWriteUnits: a.emulatorTableWriteUnits + b.emulatorTableWriteUnits,
    calculatedTableWriteUnits: a.calculatedTableWriteUnits + b.calculatedTableWriteUnits,
    emulatorIndexWriteUnits: a.emulatorIndexWriteUnits + b.emulatorIndexWriteUnits,
  };
}

/** Dollars per million of something that sent `bill` and ran `lambda`, behind `apiRequests` API Gateway requests. */
export function dollarsPerMillion(bill: Bill, lambda: Invocations | OperationCost['lambda'], apiRequests: number, memoryMb = DEFAULT_MEMORY_MB) {
  const m = 1e6;
  const dynamodb = m * (writeUnitsOf(bill) * PRICES.dynamodbWriteUnit + bill.readUnits * PRICES.dynamodbReadUnit);
  const sqs = m * bill.sqsRequests * PRICES.sqsFifoRequest;
  const lambdaCost = m * (lambda.invocations * PRICES.lambdaRequest + (lambda.billedMs / 1000) * (memoryMb / 1024) * PRICES.lambdaArmGbSecond);
  const apiGateway = m * apiRequests * PRICES.apiGatewayRestRequest;
  const total = dynamodb + sqs + lambdaCost + apiGateway;
  return { dynamodb, sqs, lambda: lambdaCost, apiGateway, total, totalWithHttpApi: total - apiGateway + m * apiRequests * PRICES.apiGatewayHttpRequest };
}

/** Each operation once, unmeasured, on a warm-up project, then measured: a warm Lambda's durations, not a cold one's. */
export async function measureOperationCosts(h: Harness): Promise<OperationCost[]> {
  await operationCosts(h);
  return operationCosts(h);
}

async function operationCosts(h: Harness): Promise<OperationCost[]> {
  const setup = h.table('setup');
  const projectId = hex();
  const token = `${hex()}:${projectId}`;
  const rows: OperationCost[] = [];
  const take = () => {
    let bill = emptyBill();
    for (const p of PATHS) bill = add(bill, h.meter.take(p));
    const api = h.lambda.take('api');
    const compute = h.lambda.take('compute');
    return {
      bill, byFunction: { api, compute },
      lambda: { invocations: api.invocations + compute.invocations, billedMs: api.billedMs + compute.billedMs, cpuMs: api.cpuMs + compute.cpuMs },
    };
  };
  const measure = async (operation: string, method: string, path: string, body?: unknown, drain = true) => {
    take();
    h.meter.measuring = true;
    const res = await h.apiAs(token, method, path, body);
    if (drain) await h.drain();
    h.meter.measuring = false;
    const { bill, lambda, byFunction } = take();
    // The drain's last receive found nothing: Lambda's pollers make those whatever the load (docs/costs.md).
    if (drain) bill.sqsRequests--;
    if (bill.unmetered > 0) throw new Error(`${operation}: a batch or transactional write the meter cannot bill`);
    rows.push({
      operation, status: res.statusCode, tableWriteUnits: bill.tableWriteUnits, indexWriteUnits: bill.indexWriteUnits,
      writeUnits: writeUnitsOf(bill), readUnits: bill.readUnits, sqsRequests: bill.sqsRequests, lambda, lambdaByFunction: byFunction, apiRequests: 1,
      dollarsPerMillion: dollarsPerMillion(bill, lambda, 1),
      emulatorAgrees: bill.emulatorTableWriteUnits === bill.calculatedTableWriteUnits
        && (bill.emulatorIndexWriteUnits === 0 || bill.emulatorIndexWriteUnits === writeUnitsOf(bill) - bill.tableWriteUnits),
      emulatorReportsIndexes: bill.emulatorIndexWriteUnits > 0,
    });
    return res;
  };
  const created = await measure('create', 'POST', '/servers', {
    server: { name: 'billed', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', metadata: { role: 'web' } },
  });
  const id = JSON.parse(created.body).server.id as string;
  await measure('reboot (soft)', 'POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
  await measure('resize (3 steps)', 'POST', `/servers/${id}/action`, { resize: { flavorRef: '2' } });
  await measure('confirm resize', 'POST', `/servers/${id}/action`, { confirmResize: null });
  await measure('attach volume', 'POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: await seedVolume(setup, { projectId }) } });
  await measure('attach interface', 'POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: await seedPort(setup, projectId) } });
  // A refusal: a reboot while a stop holds the server (the stop unmeasured, not drained yet).
  await h.apiAs(token, 'POST', `/servers/${id}/action`, { 'os-stop': null });
  await measure('refused: 409 (busy)', 'POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } }, false);
  await h.drain();
  await measure('GET /servers/{id}', 'GET', `/servers/${id}`, undefined, false);
  await measure('delete (1 volume, 1 port)', 'DELETE', `/servers/${id}`);
  return rows;
}

/** The peers' own requests for one accepted operation (the library alone: no API, no Lambda). */
export async function measurePeerCosts(h: Harness): Promise<{ name: string; writeUnits: number; readUnits: number; dollarsPerMillion: number }[]> {
  const history = new History();
  const peers: Peer[] = [naivePeer(h.table('peer'), history, 0), lockItemPeer(h.table('peer'), history, 0), idempotencyPeer(h.table('peer'), history, 0)];
  const out = [];
  for (const peer of peers) {
    h.meter.take('peer');
    h.meter.measuring = true;
    await peer.attempt({ instanceId: crypto.randomUUID(), op: 'reboot', requestId: 'cost' });
    h.meter.measuring = false;
    const bill = h.meter.take('peer');
    out.push({ name: peer.name, writeUnits: writeUnitsOf(bill), readUnits: bill.readUnits, dollarsPerMillion: dollarsPerMillion(bill, { invocations: 0, billedMs: 0, cpuMs: 0 }, 0).total });
  }
  return out;
}

/** Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB (AWS's documentation). */
export const MB_PER_VCPU = 1769;

export interface MemoryOption { memoryMb: number; msPerInvocation: number; dollarsPerMillionInvocations: number }

/**
 * A model, not a measurement (memory cannot be set for a handler run in-process): each invocation's
 * CPU time measured here, stretched by the share of a vCPU the memory buys (this machine's core
 * taken as one vCPU), plus the time it waited on requests (wall minus CPU), unchanged by memory.
 */
export function memoryModel(invocations: Invocations[], sizes = [256, 512, 1024]): MemoryOption[] {
  const n = invocations.reduce((a, i) => a + i.invocations, 0);
  const cpu = invocations.reduce((a, i) => a + i.cpuMs, 0) / n;
  const wait = Math.max(0, invocations.reduce((a, i) => a + i.wallMs - i.cpuMs, 0) / n);
  return sizes.map((memoryMb) => {
    const ms = Math.ceil(wait + cpu * Math.max(1, MB_PER_VCPU / memoryMb));
    return { memoryMb, msPerInvocation: ms, dollarsPerMillionInvocations: 1e6 * (PRICES.lambdaRequest + (ms / 1000) * (memoryMb / 1024) * PRICES.lambdaArmGbSecond) };
  });
}
