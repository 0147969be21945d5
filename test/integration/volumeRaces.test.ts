import { setTimeout as sleep } from 'node:timers/promises';
import { readInstance } from '../../functions/core/compute/readInstance.js';
import { readAttachable, Volumes } from '../../functions/core/shared/attachables.js';
import { seedInstance } from '../support/emulators.js';
import { startVolumeApi, type VolumeApi } from '../support/volumeApi.js';

// Races on one volume between Nova's attach and Cinder's own operations, over HTTP, many rounds
// each. The queue is the gate: an admitted attach holds its volume (reserved) until the test runs
// its worker, and an extend holds its volume (extending) until the test opens the backend's gate,
// so each pair truly overlaps. Counts are asserted; nothing is printed.

const ROUNDS = 20;

let api: VolumeApi;
beforeAll(async () => { api = await startVolumeApi(); });
afterAll(() => api.stop());

/** A fresh project per round: its own quota, its own servers. */
async function round(options: { servers?: number } = {}) {
  const p = `race-${crypto.randomUUID().slice(0, 8)}`;
  const servers = [];
  for (let i = 0; i < (options.servers ?? 1); i++) servers.push((await seedInstance(api.table, { projectId: p })).id);
  return { p, servers, nova: api.nova(`alice:${p}`), cinder: api.cinder(`alice:${p}`) };
}

const attachBody = (volumeId: string) => ({ volumeAttachment: { volumeId } });

/** Runs every queued operation to its end. */
async function drain() {
  while (api.queue.messages.length > 0) expect(await api.run(api.queue.take())).toBe('done');
}

it(`one volume, two servers at once: exactly one attaches (${ROUNDS} rounds); with multiattach both do`, async () => {
  const tally = { rounds: 0, winners: 0, refusedWithCinder400: 0, inUseByWinnerOnly: 0, multiRounds: 0, multiWinners: 0, multiBothListed: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const { servers, nova, cinder } = await round({ servers: 2 });
    const id = await cinder.create();
    const answers = await Promise.all(servers.map((s) => nova.post(`/servers/${s}/os-volume_attachments`, attachBody(id))));
    tally.rounds++;
    const won = servers.filter((_, i) => answers[i]!.status === 200);
    tally.winners += won.length;
    for (const a of answers) {
      if (a.status === 400 && /^Invalid volume: Volume .* status must be available or downloading to reserve, but the current status is reserved\.$/.test(a.body.badRequest.message)) {
        tally.refusedWithCinder400++;
      }
    }
    await drain();
    const shown = (await cinder.get(`/volumes/${id}`)).body.volume;
    if (shown.status === 'in-use' && shown.attachments.length === 1 && shown.attachments[0].server_id === won[0]) tally.inUseByWinnerOnly++;

    const shared = await cinder.create({ volume_type: 'multiattach' });
    const both = await Promise.all(servers.map((s) => nova.post(`/servers/${s}/os-volume_attachments`, attachBody(shared))));
    tally.multiRounds++;
    tally.multiWinners += both.filter((a) => a.status === 200).length;
    await drain();
    const sharedShown = (await cinder.get(`/volumes/${shared}`)).body.volume;
    const listed = sharedShown.attachments.map((a: { server_id: string }) => a.server_id).sort();
    if (sharedShown.status === 'in-use' && JSON.stringify(listed) === JSON.stringify([...servers].sort())) tally.multiBothListed++;
    // Held by two, it cannot go; detached from both, it is available and goes.
    expect((await cinder.delete(`/volumes/${shared}`)).status).toBe(400);
    for (const s of servers) expect((await nova.delete(`/servers/${s}/os-volume_attachments/${shared}`)).status).toBe(202);
    await drain();
    expect(await cinder.status(shared)).toBe('available');
    expect((await cinder.delete(`/volumes/${shared}`)).status).toBe(202);
  }
  expect(tally).toEqual({
    rounds: ROUNDS, winners: ROUNDS, refusedWithCinder400: ROUNDS, inUseByWinnerOnly: ROUNDS,
    multiRounds: ROUNDS, multiWinners: 2 * ROUNDS, multiBothListed: ROUNDS,
  });
}, 120_000);

it(`attach racing the volume's delete: exactly one wins, never a deleted volume attached (${ROUNDS} rounds)`, async () => {
  const tally = { rounds: 0, oneWinner: 0, attachWon: 0, deleteWon: 0, deletedAttached: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const { servers: [server], nova, cinder } = await round();
    const id = await cinder.create();
    // Both in flight at once, each round the other one sent first, so that each side wins some
    // rounds (what is asserted holds whichever does).
    const sendAttach = () => nova.post(`/servers/${server}/os-volume_attachments`, attachBody(id));
    const sendDelete = () => cinder.delete(`/volumes/${id}`);
    const [attach, del] = r % 2 === 0
      ? await Promise.all([sleep(2).then(sendAttach), sendDelete()])
      : await Promise.all([sendAttach(), sleep(2).then(sendDelete)]);
    tally.rounds++;
    if ((attach!.status === 200) !== (del!.status === 202)) tally.oneWinner++;
    if (attach!.status === 200) {
      tally.attachWon++;
      expect(del!.body.badRequest.message).toMatch(/^Invalid volume: Volume status must be available/);
    } else {
      tally.deleteWon++;
      expect(attach!.body).toEqual({ itemNotFound: { code: 404, message: `Volume ${id} could not be found.` } });
    }
    await drain();
    const volume = await readAttachable(api.table, Volumes, id);
    const onServer = (await readInstance(api.table, server!))?.volumes?.[id];
    if (onServer && (!volume || volume.status !== 'in-use')) tally.deletedAttached++;
  }
  expect(tally).toMatchObject({ rounds: ROUNDS, oneWinner: ROUNDS, deletedAttached: 0 });
  expect(tally.attachWon + tally.deleteWon).toBe(ROUNDS);
}, 120_000);

it(`attach racing the volume's extend (held while extending): exactly one wins (${ROUNDS} rounds)`, async () => {
  const tally = { rounds: 0, oneWinner: 0, attachWon: 0, extendWon: 0, consistent: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const { servers: [server], nova, cinder } = await round();
    const id = await cinder.create({ size: 1 });
    const held = api.holdExtends();
    const extending = cinder.post(`/volumes/${id}/action`, { 'os-extend': { new_size: 2 } });
    // Every other round the attach leaves a moment later, so that each side wins some rounds.
    const attach = await sleep(r % 2 ? 8 : 0).then(() => nova.post(`/servers/${server}/os-volume_attachments`, attachBody(id)));
    // The extend answers at once when refused; when it won it waits, holding the volume, until now.
    held.open();
    const extend = await extending;
    tally.rounds++;
    if ((attach.status === 200) !== (extend.status === 202)) tally.oneWinner++;
    await drain();
    const volume = (await cinder.get(`/volumes/${id}`)).body.volume;
    if (attach.status === 200) {
      tally.attachWon++;
      if (volume.status === 'in-use' && volume.size === 1 && /to extend, currently (reserved|attaching|in-use)\.$/.test(extend.body.badRequest.message)) tally.consistent++;
    } else {
      tally.extendWon++;
      if (volume.status === 'available' && volume.size === 2 && /current status is extending\.$/.test(attach.body.badRequest.message)) tally.consistent++;
    }
    // The quota holds what the volume is: the charged growth given back when the extend lost.
    expect((await cinder.get(`/os-quota-sets/${cinder.project}?usage=True`)).body.quota_set.gigabytes.in_use).toBe(volume.size);
  }
  expect(tally).toMatchObject({ rounds: ROUNDS, oneWinner: ROUNDS, consistent: ROUNDS });
  expect(tally.attachWon + tally.extendWon).toBe(ROUNDS);
}, 120_000);

it(`N concurrent creates against the quota: exactly the quota admitted, usage back to 0 after deleting (${ROUNDS} rounds)`, async () => {
  const N = 14;
  const tally = { rounds: 0, admitted: 0, refused413: 0, usedAtPeak: 0, usedAfter: 0, gigabytesAfter: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const { p, cinder } = await round();
    const answers = await Promise.all(Array.from({ length: N }, () => cinder.post('/volumes', { volume: { size: 3 } })));
    tally.rounds++;
    tally.admitted += answers.filter((a) => a.status === 202).length;
    tally.refused413 += answers.filter((a) => a.status === 413
      && a.body.overLimit.message === "Maximum number of volumes allowed (10) exceeded for quota 'volumes'.").length;
    const usage = (await cinder.get(`/os-quota-sets/${p}?usage=True`)).body.quota_set;
    tally.usedAtPeak += usage.volumes.in_use;
    expect(usage.gigabytes.in_use).toBe(30);
    await Promise.all(answers.filter((a) => a.status === 202).map((a) => cinder.delete(`/volumes/${a.body.volume.id}`)));
    const after = (await cinder.get(`/os-quota-sets/${p}?usage=True`)).body.quota_set;
    tally.usedAfter += after.volumes.in_use;
    tally.gigabytesAfter += after.gigabytes.in_use;
  }
  expect(tally).toEqual({
    rounds: ROUNDS, admitted: 10 * ROUNDS, refused413: (N - 10) * ROUNDS, usedAtPeak: 10 * ROUNDS, usedAfter: 0, gigabytesAfter: 0,
  });
}, 120_000);
