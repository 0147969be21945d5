import { isIP } from 'node:net';
import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv';
import { BadRequest } from '../core/errors.js';
import { isAtLeast, type ApiVersion } from './apiVersion.js';
import { describe } from './schemas.js';

// The request schemas of the server APIs as Nova's change them by microversion
// (nova/api/openstack/compute/schemas/servers.py and parameter_types.py), built for the
// request's version. Formats are Nova's: ipv4, ipv6, uuid, base64.

const ajv = new Ajv({ allErrors: false, strict: false });
ajv.addFormat('ipv4', (s: string) => isIP(s) === 4);
ajv.addFormat('ipv6', (s: string) => isIP(s) === 6);
ajv.addFormat('uuid', /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/);
// Python's base64.decodebytes: whitespace ignored, padding must be right.
ajv.addFormat('base64', (s: string) => {
  const t = s.replace(/\s+/g, '');
  return t.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(t);
});

// Nova's printable characters: no Unicode "other" (control, format, surrogate, private, unassigned)
// and no separator but the space separators, within the Basic Multilingual Plane.
const PRINTABLE = '[^\\p{C}\\p{Zl}\\p{Zp}\\u{10000}-\\u{10FFFF}]';
const NOT_PRINTABLE_OR_SPACE = '[\\p{C}\\p{Z}\\u{10000}-\\u{10FFFF}]';

/** parameter_types.name: 1-255 printable characters, no leading or trailing whitespace. */
export const novaName = {
  type: 'string', minLength: 1, maxLength: 255,
  pattern: `^(?!${NOT_PRINTABLE_OR_SPACE})${PRINTABLE}*(?<!${NOT_PRINTABLE_OR_SPACE})$`,
} as const;
export const description = { type: ['string', 'null'], minLength: 0, maxLength: 255, pattern: `^${PRINTABLE}*$` } as const;
export const metadata = {
  type: 'object', additionalProperties: false,
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
} as const;
const uuid = { type: 'string', format: 'uuid' } as const;
const ipAddress = { oneOf: [{ type: 'string', format: 'ipv4' }, { type: 'string', format: 'ipv6' }] } as const;
const accessIPv4 = { type: 'string', format: 'ipv4' } as const;
const accessIPv6 = { type: 'string', format: 'ipv6' } as const;
const diskConfig = { type: 'string', enum: ['AUTO', 'MANUAL'] } as const;
const adminPass = { type: 'string' } as const;
const flavorRef = { type: ['string', 'integer'], minLength: 1 } as const;
export const tag = { type: 'string', pattern: '^[^,/]*$', minLength: 1, maxLength: 60 } as const;
const boolean = {
  type: ['boolean', 'string'],
  enum: [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes',
    false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'],
} as const;
const positiveInteger = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, minLength: 1 } as const;
const userData = { type: 'string', format: 'base64', maxLength: 65535 } as const;
const personality = {
  type: 'array',
  items: {
    type: 'object', additionalProperties: false,
    properties: { path: { type: 'string' }, contents: { type: 'string', format: 'base64' } },
  },
} as const;
const trustedCerts = {
  type: ['array', 'null'], minItems: 1, maxItems: 50, uniqueItems: true, items: { type: 'string', minLength: 1 },
} as const;
const hostname = { type: 'string', pattern: '^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$', minLength: 2, maxLength: 63 } as const;
const fqdn = { type: 'string', pattern: '^[a-zA-Z0-9-._]*$', minLength: 1, maxLength: 255 } as const;

const bdmV2 = (v: ApiVersion) => ({
  type: 'object', additionalProperties: false,
  properties: {
    virtual_name: { type: 'string', maxLength: 255 }, volume_id: uuid, snapshot_id: uuid,
    volume_size: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1 },
    device_name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9._/-]*$' },
    delete_on_termination: boolean, no_device: {}, connection_info: { type: 'string', maxLength: 16777215 },
    source_type: { type: 'string', enum: ['volume', 'image', 'snapshot', 'blank'] },
    uuid: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9._-]*$' },
    image_id: uuid, destination_type: { type: 'string', enum: ['local', 'volume'] },
    guest_format: { type: 'string', maxLength: 255 }, device_type: { type: 'string', maxLength: 255 },
    disk_bus: { type: 'string', maxLength: 255 }, boot_index: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$' },
    ...(isAtLeast(v, '2.42') || (isAtLeast(v, '2.32') && !isAtLeast(v, '2.33')) ? { tag } : {}),
    ...(isAtLeast(v, '2.67') ? { volume_type: { type: ['string', 'null'], minLength: 0, maxLength: 255 } } : {}),
  },
});

function networks(v: ApiVersion) {
  const withTag = isAtLeast(v, '2.42') || (isAtLeast(v, '2.32') && !isAtLeast(v, '2.37'));
  const item = {
    type: 'object', additionalProperties: false,
    properties: {
      fixed_ip: ipAddress, port: { type: ['string', 'null'], format: 'uuid' },
      uuid: isAtLeast(v, '2.37') ? uuid : { type: 'string' },
      ...(withTag ? { tag } : {}),
    },
  };
  if (!isAtLeast(v, '2.37')) return { type: 'array', items: item };
  return { oneOf: [{ type: 'array', items: item }, { type: 'string', enum: ['none', 'auto'] }] };
}

const hints = { type: 'object', additionalProperties: true };

/** POST /servers at version v. */
export function createServerSchema(v: ApiVersion) {
  const server: Record<string, unknown> = {
    name: novaName, imageRef: { type: 'string', anyOf: [{ format: 'uuid' }, { maxLength: 0 }] }, flavorRef, adminPass,
    metadata, networks: networks(v), 'OS-DCF:diskConfig': diskConfig, accessIPv4, accessIPv6,
    availability_zone: novaName,
    block_device_mapping: { type: 'array', items: { type: 'object' } },
    block_device_mapping_v2: { type: 'array', items: bdmV2(v) },
    config_drive: boolean, key_name: novaName, min_count: positiveInteger, max_count: positiveInteger,
    return_reservation_id: boolean,
    security_groups: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { name: novaName } } },
    user_data: userData,
  };
  if (!isAtLeast(v, '2.57')) server.personality = personality;
  if (isAtLeast(v, '2.19')) server.description = description;
  if (isAtLeast(v, '2.52')) server.tags = { type: 'array', items: tag, maxItems: 50 };
  if (isAtLeast(v, '2.63')) server.trusted_image_certificates = trustedCerts;
  if (isAtLeast(v, '2.74')) { server.host = fqdn; server.hypervisor_hostname = fqdn; }
  if (isAtLeast(v, '2.90')) server.hostname = isAtLeast(v, '2.94') ? fqdn : hostname;
  return {
    type: 'object', required: ['server'], additionalProperties: false,
    properties: {
      server: {
        type: 'object', additionalProperties: false, properties: server,
        required: isAtLeast(v, '2.37') ? ['name', 'flavorRef', 'networks'] : ['name', 'flavorRef'],
      },
      'os:scheduler_hints': hints, 'OS-SCH-HNT:scheduler_hints': hints,
    },
  };
}

/** PUT /servers/{id} at version v. */
export function updateServerSchema(v: ApiVersion) {
  return {
    type: 'object', required: ['server'], additionalProperties: false,
    properties: {
      server: {
        type: 'object', additionalProperties: false,
        properties: {
          name: novaName, 'OS-DCF:diskConfig': diskConfig, accessIPv4, accessIPv6,
          ...(isAtLeast(v, '2.19') ? { description } : {}),
          ...(isAtLeast(v, '2.90') ? { hostname: isAtLeast(v, '2.94') ? fqdn : hostname } : {}),
        },
      },
    },
  };
}

/** The rebuild action's value at version v. */
export function rebuildSchema(v: ApiVersion) {
  return {
    type: 'object', required: ['imageRef'], additionalProperties: false,
    properties: {
      name: novaName, imageRef: uuid, adminPass, metadata, preserve_ephemeral: boolean,
      'OS-DCF:diskConfig': diskConfig, accessIPv4, accessIPv6,
      ...(isAtLeast(v, '2.57') ? {} : { personality }),
      ...(isAtLeast(v, '2.19') ? { description } : {}),
      ...(isAtLeast(v, '2.54') ? { key_name: { oneOf: [{ type: 'string', minLength: 1, maxLength: 255 }, { type: 'null' }] } } : {}),
      ...(isAtLeast(v, '2.57') ? { user_data: { ...userData, type: ['string', 'null'] } } : {}),
      ...(isAtLeast(v, '2.63') ? { trusted_image_certificates: trustedCerts } : {}),
      ...(isAtLeast(v, '2.90') ? { hostname: isAtLeast(v, '2.94') ? fqdn : hostname } : {}),
    },
  };
}

export const resizeSchema = {
  type: 'object', required: ['flavorRef'], additionalProperties: false,
  properties: { flavorRef, 'OS-DCF:diskConfig': diskConfig },
} as const;

/** The lock action's value: anything before 2.73, then an optional locked_reason. */
/** addSecurityGroup / removeSecurityGroup: the group's name. */
export function securityGroupActionSchema(_v: ApiVersion) {
  return {
    type: 'object', required: ['name'], additionalProperties: false,
    properties: { name: { type: 'string', minLength: 1, maxLength: 255 } },
  };
}

export function lockSchema(v: ApiVersion) {
  if (!isAtLeast(v, '2.73')) return {};
  return {
    type: ['object', 'null'], additionalProperties: false,
    properties: { locked_reason: { type: 'string', minLength: 1, maxLength: 255 } },
  };
}

export const metadataBody = { type: 'object', required: ['metadata'], additionalProperties: false, properties: { metadata } } as const;
export const metaItemBody = {
  type: 'object', required: ['meta'], additionalProperties: false,
  properties: { meta: { ...metadata, minProperties: 1, maxProperties: 1 } },
} as const;
export const tagsBody = {
  type: 'object', required: ['tags'], additionalProperties: false,
  properties: { tags: { type: 'array', items: tag, maxItems: 50 } },
} as const;

/** os-volume_attachments POST: a device tag from 2.49, delete_on_termination from 2.79. */
export function attachVolumeSchema(v: ApiVersion) {
  return {
    type: 'object', required: ['volumeAttachment'], additionalProperties: false,
    properties: {
      volumeAttachment: {
        type: 'object', required: ['volumeId'], additionalProperties: false,
        properties: {
          volumeId: uuid, device: { type: ['string', 'null'], pattern: '^(/dev/[a-z0-9]+)?$' },
          ...(isAtLeast(v, '2.49') ? { tag } : {}),
          ...(isAtLeast(v, '2.79') ? { delete_on_termination: boolean } : {}),
        },
      },
    },
  };
}

/** os-interface POST: a device tag from 2.49. */
export function attachInterfaceSchema(v: ApiVersion) {
  return {
    type: 'object', additionalProperties: false,
    properties: {
      interfaceAttachment: {
        type: 'object', additionalProperties: false,
        properties: {
          port_id: uuid, net_id: uuid,
          fixed_ips: {
            type: 'array', maxItems: 1,
            items: { type: 'object', required: ['ip_address'], additionalProperties: false, properties: { ip_address: ipAddress } },
          },
          ...(isAtLeast(v, '2.49') ? { tag } : {}),
        },
      },
    },
  };
}

/** An IPv6 address as Nova stores it (netaddr's compact form): '0:0::babe:220.12.22.2' is '::babe:dc0c:1602'. */
export const normalIPv6 = (address: string) => new URL(`http://[${address}]/`).hostname.slice(1, -1);

/** A Nova boolean (true, 'True', 'yes', '1', ...) as a boolean. */
export const isTrue = (value: unknown) =>
  value === true || (typeof value === 'string' && ['true', '1', 'on', 'yes'].includes(value.toLowerCase()));

const cache = new WeakMap<object, ValidateFunction>();
const byKey = new Map<string, ValidateFunction>();

/** Validates `body` with `schema` (compiled once per schema, or per `key` for built ones); Nova's 400. */
export function check<T>(schema: object, body: unknown, key?: string): T {
  let fn = key ? byKey.get(key) : cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema as AnySchemaObject);
    if (key) byKey.set(key, fn); else cache.set(schema, fn);
  }
  if (!fn(body)) throw new BadRequest(describe(fn.errors![0]!, body));
  return body as T;
}
