import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalProcess, type LocalProcess } from '../support/localProcess.js';
import { Nova, type NovaResponse } from '../support/nova.js';

// The real process: SIGKILL `npm start`'s server in the middle of a long operation, start it
// again on the same data directory, and nothing is lost: the servers and actions are there,
// the operation that was running is taken over after its message comes back and succeeds, and
// the operation still queued at the kill runs. Durations are short through configuration.
// Creates are in flight at the kill too: whatever a listing shows after the restart, GET finds
// (an item and its index entries are written together: patches/dynalite+4.0.0.patch).

const env = (dataDir: string) => ({
  TASKGATE_DATA_DIR: dataDir,
  TASKGATE_DRIVER_STEP_MS: '1000',
  TASKGATE_COMPUTE_TIMEOUT_SECONDS: '1',
  TASKGATE_VISIBILITY_TIMEOUT_SECONDS: '4',
  TASKGATE_LEASE_MARGIN_SECONDS: '1',
  TASKGATE_MAX_RECEIVE_COUNT: '5',
  TASKGATE_SWEEP_INTERVAL_SECONDS: '1',
});

let dataDir: string;
let running: LocalProcess | undefined;
beforeAll(async () => { dataDir = await mkdtemp(join(tmpdir(), 'taskgate-crash-')); });
afterAll(async () => {
  running?.child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Every server a listing shows, page by page (two a page, so there are pages). */
async function listAll(nova: Nova, query = ''): Promise<string[]> {
  const ids: string[] = [];
  let path: string | undefined = `/servers/detail?limit=2${query}`;
  while (path) {
    const page: NovaResponse<{ servers: { id: string }[]; servers_links?: { rel: string; href: string }[] }> = await nova.get(path);
    expect(page.status).toBe(200);
    ids.push(...page.body.servers.map((s) => s.id));
    const next: string | undefined = page.body.servers_links?.find((l) => l.rel === 'next')?.href;
    path = next && next.slice(nova.baseUrl.length);
  }
  return ids;
}

/** A listing never shows a server GET calls missing: the project's, and all of them as admin. */
async function expectEveryListedServerFound(nova: Nova): Promise<string[]> {
  const admin = nova.as('admin:admin');
  const own = await listAll(nova);
  const all = await listAll(admin, '&all_tenants=1');
  expect(all).toEqual(expect.arrayContaining(own));
  const missing: string[] = [];
  for (const id of all) if ((await admin.get(`/servers/${id}`)).status === 404) missing.push(id);
  for (const id of own) if ((await nova.get(`/servers/${id}`)).status === 404) missing.push(id);
  expect(missing).toEqual([]);
  return all;
}

it('a SIGKILL mid-operation loses nothing: after a restart on the same data directory it all finishes', async () => {
  running = await startLocalProcess(env(dataDir));
  let nova = new Nova(running.apiUrl);
  const id = await nova.createServer('survivor');
  await nova.waitIdle(id);

  const resize = await nova.action(id, { resize: { flavorRef: '2' } });
  expect(resize.status).toBe(202);
  const resizeRequest = resize.headers.get('x-openstack-request-id');
  // Mid-step: the worker has passed its second checkpoint and is inside the migrate step.
  await waitFor('resize_migrating', async () =>
    (await nova.get(`/servers/${id}`)).body.server['OS-EXT-STS:task_state'] === 'resize_migrating' || undefined, 20_000);
  const queued = await nova.createServer('queued-at-the-kill');
  // Creates in flight when the process dies: each is there afterwards, or not at all.
  const inFlight = Array.from({ length: 4 }, (_, i) => nova.createServer(`in-flight-${i}`).catch(() => undefined));
  running.child.kill('SIGKILL');
  expect(await running.exited).toBe('SIGKILL');
  await Promise.all(inFlight);

  const restartedAt = Date.now();
  running = await startLocalProcess(env(dataDir));
  nova = new Nova(running.apiUrl);
  expect(running.output()).toContain(`data directory: ${dataDir}`);

  const before = (await nova.get(`/servers/${id}`)).body.server;
  expect(before['OS-EXT-STS:task_state']).not.toBeNull(); // still claimed by the killed run
  expect(await expectEveryListedServerFound(nova)).toEqual(expect.arrayContaining([id, queued]));

  const resized = await nova.waitIdle(id, 60_000);
  const created = await nova.waitIdle(queued, 60_000);
  const recoveryMs = Date.now() - restartedAt;

  expect(resized).toMatchObject({ status: 'VERIFY_RESIZE', flavor: expect.objectContaining({ id: '2' }) });
  expect(resized.fault).toBeUndefined();
  expect(created.status).toBe('ACTIVE');
  const action = (await nova.get(`/servers/${id}/os-instance-actions/${resizeRequest}`)).body.instanceAction;
  expect(action).toMatchObject({ action: 'resize', message: null });
  expect(action.events).toEqual([expect.objectContaining({ event: 'compute_resize', result: 'Success' })]);
  const actions = (await nova.get(`/servers/${id}/os-instance-actions`)).body.instanceActions;
  expect(actions.map((a: { action: string }) => a.action).sort()).toEqual(['create', 'resize']);
  await expectEveryListedServerFound(nova);

  running.child.kill('SIGTERM');
  expect(await running.exited).toBe(0);
  running = undefined;
});
