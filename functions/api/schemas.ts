import type { ErrorObject } from 'ajv';
import { BadRequest } from '../core/errors.js';
import * as validators from './validators.generated.js';

// Request schemas: the single source for validation here and for the OpenAPI document.

const UUID = '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$';
const uuid = { type: 'string', pattern: UUID } as const;
const name = { type: 'string', minLength: 1, maxLength: 255, pattern: '^\\S(.*\\S)?$' } as const;
const flavorRef = { type: ['string', 'integer'], minLength: 1 } as const;

export const schemas = {
  createServer: {
    type: 'object', required: ['server'], additionalProperties: false,
    properties: {
      server: {
        type: 'object', required: ['name', 'flavorRef', 'imageRef'], additionalProperties: false,
        properties: {
          name, flavorRef, imageRef: uuid,
          // Accepted as Nova accepts them; taskgate's simulated hypervisor has no use for them.
          min_count: { type: ['integer', 'string'] }, max_count: { type: ['integer', 'string'] },
          networks: {}, metadata: { type: 'object' }, key_name: { type: ['string', 'null'] },
          security_groups: { type: 'array' }, user_data: { type: 'string' }, availability_zone: { type: 'string' },
          config_drive: {}, 'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] }, adminPass: { type: 'string' },
          accessIPv4: { type: 'string' }, accessIPv6: { type: 'string' }, personality: { type: 'array' },
          block_device_mapping_v2: { type: 'array' }, return_reservation_id: {},
        },
      },
      'os:scheduler_hints': { type: 'object' },
    },
  },
  rebuild: {
    type: 'object', required: ['imageRef'], additionalProperties: false,
    properties: {
      imageRef: uuid, name, adminPass: { type: 'string' }, metadata: { type: 'object' },
      preserve_ephemeral: { type: 'boolean' }, 'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] },
      accessIPv4: { type: 'string' }, accessIPv6: { type: 'string' }, personality: { type: 'array' },
    },
  },
  resize: {
    type: 'object', required: ['flavorRef'], additionalProperties: false,
    properties: { flavorRef, 'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] } },
  },
  reboot: {
    type: 'object', required: ['type'], additionalProperties: false,
    properties: { type: { enum: ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'] } },
  },
  resetState: {
    type: 'object', required: ['state'], additionalProperties: false,
    properties: { state: { enum: ['active', 'error'] } },
  },
  /**
   * Actions Nova validates no body for at 2.1 to 2.9 (confirmResize, shelve, os-stop, pause,
   * lock, ...): their schemas, where any, start later (unshelve 2.77, lock 2.73). Nova accepts
   * whatever value they carry (clients send null, Tempest sends {}), and so does taskgate.
   */
  unvalidated: {},
  attachVolume: {
    type: 'object', required: ['volumeAttachment'], additionalProperties: false,
    properties: {
      volumeAttachment: {
        type: 'object', required: ['volumeId'], additionalProperties: false,
        properties: { volumeId: uuid, device: { type: ['string', 'null'], pattern: '^(/dev/[a-z0-9]+)?$' } },
      },
    },
  },
  attachInterface: {
    type: 'object', additionalProperties: false,
    properties: {
      interfaceAttachment: {
        type: 'object', additionalProperties: false,
        properties: {
          port_id: uuid, net_id: uuid,
          fixed_ips: {
            type: 'array', maxItems: 1,
            items: {
              type: 'object', required: ['ip_address'], additionalProperties: false,
              properties: { ip_address: { type: 'string', pattern: '^[0-9.:a-fA-F]+$' } },
            },
          },
        },
      },
    },
  },
} as const;

export type SchemaName = keyof typeof schemas;

/** A compiled validator: ajv's standalone code, generated ahead of time by `npm run schemas`. */
type CompiledValidator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
const compiled = validators as unknown as Record<SchemaName, CompiledValidator>;

/** Nova's wording: "Invalid input for field/attribute <path>. Value: <value>. <reason>". */
function describe(error: ErrorObject, body: unknown): string {
  const path = error.instancePath.split('/').filter(Boolean);
  let value: unknown = body;
  for (const part of path) value = (value as Record<string, unknown> | undefined)?.[part];
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const reason = error.keyword === 'required'
    ? `'${params.missingProperty}' is a required property`
    : error.keyword === 'additionalProperties'
      ? `Additional properties are not allowed ('${params.additionalProperty}' was unexpected)`
      : `${JSON.stringify(value ?? null)} ${error.message ?? 'is invalid'}`;
  return `Invalid input for field/attribute ${path.join('/') || 'body'}. Value: ${JSON.stringify(value ?? null)}. ${reason}`;
}

/** Validates a parsed body; a mismatch is Nova's 400 naming the field. */
export function validate<T>(schema: SchemaName, body: unknown): T {
  const check = compiled[schema];
  if (!check(body)) throw new BadRequest(describe(check.errors![0]!, body));
  return body as T;
}
