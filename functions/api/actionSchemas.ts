import { isAtLeast, type ApiVersion } from './apiVersion.js';

// The request schemas of the server actions that rescue a server, image it, dump its guest's
// memory, set its password and read its console, and of the external events a service sends
// (nova/api/openstack/compute/schemas/rescue.py, servers.py create_image, create_backup.py,
// admin_password.py, console_output.py, server_external_events.py), each the value of its
// action's key. parameter_types.name and metadata are serverSchemas.ts's (passed in, so that
// the two files do not import each other).

interface Shared {
  readonly name: object;
  readonly metadata: object;
}

const uuid = { type: 'string', format: 'uuid' } as const;
/** parameter_types.non_negative_integer. */
const nonNegativeInteger = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 } as const;

export const rescueSchema = {
  type: ['object', 'null'], additionalProperties: false,
  properties: { adminPass: { type: 'string' }, rescue_image_ref: uuid },
} as const;

export const createImageSchema = (s: Shared) => ({
  type: 'object', required: ['name'], additionalProperties: false,
  properties: { name: s.name, metadata: s.metadata },
});

export const createBackupSchema = (s: Shared) => ({
  type: 'object', required: ['name', 'backup_type', 'rotation'], additionalProperties: false,
  properties: { name: s.name, backup_type: { type: 'string' }, rotation: nonNegativeInteger, metadata: s.metadata },
});

export const changePasswordSchema = {
  type: 'object', required: ['adminPass'], additionalProperties: false, properties: { adminPass: { type: 'string' } },
} as const;

export const consoleOutputSchema = {
  type: 'object', additionalProperties: false,
  properties: { length: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$', minimum: -1 } },
} as const;

export const triggerCrashDumpSchema = { type: 'null' } as const;

/** nova/objects/external_event.py EVENT_STATUSES. */
export const EVENT_STATUSES = ['failed', 'completed', 'in-progress'] as const;

/** The event names a version takes: volume-extended from 2.51, power-update from 2.76. */
export function externalEventNames(v: ApiVersion): string[] {
  return [
    'network-changed', 'network-vif-plugged', 'network-vif-unplugged', 'network-vif-deleted',
    ...(isAtLeast(v, '2.51') ? ['volume-extended'] : []),
    ...(isAtLeast(v, '2.76') ? ['power-update'] : []),
    ...(isAtLeast(v, '2.82') ? ['accelerator-request-bound'] : []),
    ...(isAtLeast(v, '2.93') ? ['volume-reimaged'] : []),
  ];
}

export function externalEventsSchema(v: ApiVersion) {
  return {
    type: 'object', required: ['events'], additionalProperties: false,
    properties: {
      events: {
        type: 'array', minItems: 1,
        items: {
          type: 'object', required: ['name', 'server_uuid'], additionalProperties: false,
          properties: {
            name: { type: 'string', enum: externalEventNames(v) }, server_uuid: uuid,
            status: { type: 'string', enum: EVENT_STATUSES }, tag: { type: 'string', maxLength: 255 },
          },
        },
      },
    },
  };
}
