import { isOnHost } from './consoleLog.js';
import { recordAction } from './instanceActions.js';
import type { Caller, Instance } from './instance.js';
import { readInstance } from './readInstance.js';
import type { Table } from '../shared/table.js';

// os-server-external-events (nova/api/openstack/compute/server_external_events.py): what another
// service (Neutron, Cinder, Ironic) reports about servers. Each event is answered on its own: an
// unknown server is its 404, a missing tag its 400, a server on no host its 422, otherwise 200;
// the request answers 207 when any event failed. Each accepted event is recorded on its server as
// an instance action of the request (Nova records one for volume-extended and power-update only;
// taskgate records every one, named by Nova's action where it has one, else by the event), so
// GET os-instance-actions shows what a service told the server.

export interface ExternalEvent {
  readonly name: string;
  readonly server_uuid: string;
  readonly status?: string;
  readonly tag?: string;
}

export interface EventAnswer extends ExternalEvent {
  readonly status: string;
  readonly code: 200 | 400 | 404 | 422;
}

/** Events Nova drops without a tag (TAG_REQUIRED). */
const TAG_REQUIRED = ['volume-extended', 'power-update', 'accelerator-request-bound'];

/** The instance action Nova records for an event (compute/api.py external_instance_event), else the event's name. */
function actionFor(event: ExternalEvent): string {
  if (event.name === 'volume-extended') return 'extend_volume';
  if (event.name === 'power-update' && event.tag === 'POWER_ON') return 'start';
  if (event.name === 'power-update' && event.tag === 'POWER_OFF') return 'stop';
  return event.name;
}

export async function deliverExternalEvents(
  table: Table, caller: Caller, requestId: string, events: readonly ExternalEvent[], now: number,
): Promise<{ code: 200 | 207; events: EventAnswer[] }> {
  const ids = [...new Set(events.map((e) => e.server_uuid.toLowerCase()))];
  const servers = new Map<string, Instance>();
  for (const instance of await Promise.all(ids.map((id) => readInstance(table, id)))) {
    if (instance && !instance.deleted) servers.set(instance.id, instance);
  }
  const answers: EventAnswer[] = [];
  const accepted = new Map<string, ExternalEvent>();
  for (const event of events) {
    const server = servers.get(event.server_uuid.toLowerCase());
    const code = !server ? 404 : TAG_REQUIRED.includes(event.name) && event.tag === undefined ? 400 : !isOnHost(server) ? 422 : 200;
    answers.push({ ...event, status: code === 200 ? 'completed' : 'failed', code });
    // One action per server and request: its first accepted event names it.
    if (code === 200 && !accepted.has(server!.id)) accepted.set(server!.id, event);
  }
  const at = new Date(now).toISOString();
  await Promise.all([...accepted].map(([instanceId, event]) => recordAction(table, {
    instanceId, requestId, action: actionFor(event), userId: caller.userId, projectId: caller.projectId,
    startTime: at, event: 'compute_external_instance_event', eventStart: at, finishTime: at, result: 'Success',
  }, now)));
  return { code: answers.some((a) => a.code !== 200) ? 207 : 200, events: answers };
}
