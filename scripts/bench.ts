import { startRuntime } from '../local/runtime.js';
import { timings } from '../functions/core/config.js';
import { IMAGE, Nova } from '../test/support/nova.js';

// `npm run bench`: prints figures for the embedded default (dynalite + fauxqs in-process, one
// Node process, this machine). Not a test: nothing is asserted, numbers are for comparison.

const SERVERS = Number(process.env.BENCH_SERVERS ?? 100);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
function summary(name: string, latencies: number[], wallMs: number) {
  const s = [...latencies].sort((a, b) => a - b);
  console.log(`${name.padEnd(44)} n=${String(s.length).padStart(5)}  ${(s.length / (wallMs / 1000)).toFixed(0).padStart(5)} req/s  `
    + `p50 ${percentile(s, 0.5).toFixed(1)} ms  p95 ${percentile(s, 0.95).toFixed(1)} ms  p99 ${percentile(s, 0.99).toFixed(1)} ms`);
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

const timed = async (fn: () => Promise<unknown>) => { const t = performance.now(); await fn(); return performance.now() - t; };

const runtime = await startRuntime({ port: 0, driver: { stepMs: 0 }, timings: timings({ sweepIntervalSeconds: 3600 }), computeConcurrency: 4 });
const nova = new Nova(runtime.apiUrl, 'bench:bench');
try {
  console.log(`taskgate bench: ${SERVERS} servers, ${REQUESTS} requests, ${CONCURRENCY} concurrent clients, driver steps 0 ms`);

  const ids: string[] = [];
  const createLat: number[] = [];
  let t0 = performance.now();
  await pool(Array.from({ length: SERVERS }, (_, i) => i), CONCURRENCY, async (i) => {
    createLat.push(await timed(async () => ids.push(await nova.createServer(`bench-${i}`, '1', IMAGE))));
  });
  summary('POST /servers (create: put + action + send)', createLat, performance.now() - t0);
  await Promise.all(ids.map((id) => nova.waitIdle(id, 120_000)));

  // Guarded operations on distinct idle servers: claim + action record + SendMessage per request.
  const admitLat: number[] = [];
  const e2eLat: number[] = [];
  let accepted = 0;
  let refused = 0;
  t0 = performance.now();
  await pool(Array.from({ length: REQUESTS }, (_, i) => ids[i % ids.length]!), CONCURRENCY, async (id) => {
    const start = performance.now();
    const res = await nova.action(id, { reboot: { type: 'SOFT' } });
    admitLat.push(performance.now() - start);
    if (res.status === 202) {
      accepted++;
      await nova.waitIdle(id, 120_000);
      e2eLat.push(performance.now() - start);
    } else refused++;
  });
  const wall = performance.now() - t0;
  summary('POST action reboot (admission, any answer)', admitLat, wall);
  summary('  202 -> task_state null (queue + worker)', e2eLat, wall);
  console.log(`  ${accepted} accepted, ${refused} refused with 409 (a client raced its own previous reboot)`);

  // Contention: every request on one idle instance; exactly one wins, the rest are refused.
  const contended = ids[0]!;
  await nova.waitIdle(contended);
  const conflictLat: number[] = [];
  t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: 200 }, async () => {
    const start = performance.now();
    const res = await nova.action(contended, { 'os-stop': null });
    conflictLat.push(performance.now() - start);
    return res.status;
  }));
  summary('200 concurrent os-stop on one instance', conflictLat, performance.now() - t0);
  console.log(`  ${answers.filter((s) => s === 202).length} accepted, ${answers.filter((s) => s === 409).length} x 409`);

  const readLat: number[] = [];
  t0 = performance.now();
  await pool(Array.from({ length: REQUESTS }, (_, i) => ids[i % ids.length]!), CONCURRENCY, async (id) => {
    readLat.push(await timed(() => nova.get(`/servers/${id}`)));
  });
  summary('GET /servers/{id}', readLat, performance.now() - t0);
  const listLat: number[] = [];
  t0 = performance.now();
  await pool(Array.from({ length: 100 }, (_, i) => i), 8, async () => {
    listLat.push(await timed(() => nova.get('/servers/detail?limit=50')));
  });
  summary('GET /servers/detail?limit=50', listLat, performance.now() - t0);
} finally {
  await runtime.stop();
}
