import { runChaos } from '../test/chaos/harness.js';
const seed = Number(process.argv[2] ?? 7);
for (let i = 0; i < Number(process.argv[3] ?? 1); i++) {
  const r = await runChaos({ seed, operations: 500, clients: 8, instances: 10, volumes: 5, ports: 5 });
  console.log('violations', r.violations.length, 'reclaimed', r.reservationsReclaimed, r.seconds, 's');
  for (const v of r.violations) {
    console.log(v.invariant, v.message);
    const rid = /req-[0-9a-f-]+/.exec(v.message)?.[0];
    const inst = /on ([0-9a-f-]{36})/.exec(v.message)?.[1];
    if (!rid) continue;
    for (const e of r.history) {
      const s = JSON.stringify(e);
      if (s.includes(rid) || (inst && e.kind === 'write' && e.ok && e.pk === `INSTANCE#${inst}` && e.sk === 'META') || (e.kind === 'fault' && s.includes(rid))) {
        const x: any = { ...e };
        if (x.after) x.after = { v: x.after.version, ts: x.after.taskState, vm: x.after.vmState, claim: x.after.claim?.requestId, op: x.after.claim?.op, lease: x.after.leaseUntil, last: x.after.lastOutcome?.requestId, del: x.after.deleted, fin: x.after.finishTime };
        if (x.kind === 'request') { delete x.answer; }
        if (x.kind === 'write') { x.values = Object.keys(x.values ?? {}).join(','); x.t = `${x.start}-${x.end}`; delete x.start; delete x.end; x.actor = `${x.actor.role}:${x.actor.id}:${x.actor.requestId ?? ''}:${x.actor.token ?? ''}`; }
        if (x.kind === 'final') continue;
        console.log(JSON.stringify(x).slice(0, 400));
      }
    }
  }
  if (r.violations.length) break;
}
process.exit(0);
