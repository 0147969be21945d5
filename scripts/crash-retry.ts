import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalProcess, type LocalProcess } from '../test/support/localProcess.js';
import { IMAGE, Nova } from '../test/support/nova.js';

// `npm run crash-retry`: the Idempotency-Key's promise, end to end, as a user would test it.
// taskgate on its embedded default (a data directory kept across restarts) takes keyed creates,
// each with its own key, and is SIGKILLed mid-flight, three times; after the last restart every
// request whose answer was lost is retried once with the same key and body, past the key's
// in-progress window. Printed: keys, answers lost, servers made per key. One key, one server.
// Takes about a minute (the window is 30 s, its minimum).

const ROUNDS = 3;
const PER_ROUND = Number(process.env.CRASH_RETRY_PER_ROUND ?? 40);
const WINDOW_S = 30;

interface Sent { readonly key: string; readonly name: string; answered?: { status: number; id?: string } }

// Short compute timings, so that an operation whose worker died with the process is taken up
// again within seconds of the restart (its message comes back after the visibility timeout).
const env = (dataDir: string) => ({
  TASKGATE_DATA_DIR: dataDir, TASKGATE_IDEMPOTENCY_IN_PROGRESS_SECONDS: String(WINDOW_S), TASKGATE_DRIVER_STEP_MS: '20',
  TASKGATE_COMPUTE_TIMEOUT_SECONDS: '5', TASKGATE_LEASE_MARGIN_SECONDS: '2', TASKGATE_SWEEP_INTERVAL_SECONDS: '5',
});
const body = (name: string) => ({ server: { name, flavorRef: '1', imageRef: IMAGE } });

async function create(nova: Nova, s: Sent): Promise<void> {
  const res = await nova.request('POST', '/servers', body(s.name), { 'Idempotency-Key': `"${s.key}"` });
  s.answered = { status: res.status, id: res.body?.server?.id };
  if (res.status >= 400 && res.status !== 409) console.log(`  ${s.key}: ${res.status} ${JSON.stringify(res.body)}`);
  if (res.status === 409) conflicts.push(JSON.stringify(res.body));
}
const conflicts: string[] = [];

/** The project's instances, cores and ram unlimited: its 120 servers are past Nova's default quota of 10. */
async function liftQuota(nova: Nova): Promise<void> {
  const res = await nova.as('admin:admin').request('PUT', '/os-quota-sets/demo', { quota_set: { instances: -1, cores: -1, ram: -1 } });
  if (res.status !== 200) throw new Error(`quota update: ${res.status} ${JSON.stringify(res.body)}`);
}

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'taskgate-crash-retry-'));
  const sent: Sent[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const proc = await startLocalProcess(env(dataDir));
      const nova = new Nova(proc.apiUrl);
      if (round === 1) await liftQuota(nova);
      const batch = Array.from({ length: PER_ROUND }, () => {
        const key = crypto.randomUUID();
        return { key, name: `crash-${key.slice(0, 8)}` } as Sent;
      });
      sent.push(...batch);
      const inFlight = batch.map((s) => create(nova, s).catch(() => undefined));
      // SIGKILL once a few answers are out: the rest are in flight at every stage.
      while (batch.filter((s) => s.answered).length < PER_ROUND / 4) await sleep(5);
      proc.child.kill('SIGKILL');
      await proc.exited;
      await Promise.all(inFlight);
      console.log(`round ${round}: ${batch.filter((s) => s.answered).length} of ${PER_ROUND} answered before SIGKILL`);
    }
    const proc: LocalProcess = await startLocalProcess(env(dataDir));
    const nova = new Nova(proc.apiUrl);
    const lost = sent.filter((s) => !s.answered || s.answered.status >= 500);
    console.log(`${lost.length} answers lost; retrying each with its key after the ${WINDOW_S} s window`);
    await sleep((WINDOW_S + 1) * 1000);
    const retries: Record<number, number> = {};
    for (const s of lost) {
      await create(nova, s);
      retries[s.answered!.status] = (retries[s.answered!.status] ?? 0) + 1;
    }
    // A key still in progress (its first request was taken up again by the restarted worker, say,
    // or its window not yet over): retried once more after another window, as a client would.
    const busy = lost.filter((s) => s.answered?.status === 409);
    if (busy.length > 0) {
      await sleep((WINDOW_S + 1) * 1000);
      for (const s of busy) await create(nova, s);
      console.log(`${busy.length} retried again after another window: ${JSON.stringify(Object.fromEntries(
        [...new Set(busy.map((s) => s.answered!.status))].map((st) => [st, busy.filter((s) => s.answered!.status === st).length])))}`);
    }
    console.log(`retries answered: ${JSON.stringify(retries)}${conflicts.length ? `; a 409: ${conflicts[0]}` : ''}`);
    const servers: { id: string; name: string; status: string }[] = [];
    for (let marker: string | undefined, page = 0; page < 100; page++) {
      const res = await nova.get(`/servers/detail?limit=100${marker ? `&marker=${marker}` : ''}`);
      servers.push(...res.body.servers);
      if (!res.body.servers_links) break;
      marker = res.body.servers.at(-1).id;
    }
    for (const s of servers) await nova.waitIdle(s.id, 120_000);
    const byName = new Map<string, number>();
    for (const s of servers) byName.set(s.name, (byName.get(s.name) ?? 0) + 1);
    const keys = sent.length;
    const doubled = sent.filter((s) => (byName.get(s.name) ?? 0) > 1);
    const missing = sent.filter((s) => (byName.get(s.name) ?? 0) === 0);
    const statuses: Record<string, number> = {};
    for (const s of servers) {
      const shown = (await nova.get(`/servers/${s.id}`)).body.server;
      const status = String(shown.status);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 'ERROR') console.log(`  ${s.name} ERROR: ${shown.fault?.message}`);
    }
    console.log(`keys: ${keys}, servers: ${servers.length} (${JSON.stringify(statuses)}), keys with two or more servers: ${doubled.length}, keys with none: ${missing.length}`);
    proc.child.kill('SIGTERM');
    await proc.exited;
    if (doubled.length > 0 || servers.length !== keys) process.exitCode = 1;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
