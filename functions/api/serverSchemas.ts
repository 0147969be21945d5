import {
  addTenantAccessBody, createExtraSpecsBody, removeTenantAccessBody, updateExtraSpecBody, updateQuotaClassSetSchema, updateQuotaSetSchema,
} from './adminSchemas.js';
import {
  changePasswordSchema, consoleOutputSchema, createBackupSchema, createImageSchema, externalEventsSchema, rescueSchema, triggerCrashDumpSchema,
} from './actionSchemas.js';
import { BadRequest } from '../core/shared/errors.js';
import { isAtLeast, isSupported, versionString, type ApiVersion } from './apiVersion.js';
import { describe } from './validationMessage.js';
import {
  aggregateActionSchema, createAggregateSchema, createServerGroupSchema, serviceActionSchema, updateAggregateSchema, updateHostSchema,
  updateServiceSchema,
} from './placementSchemas.js';
import { evacuateSchema, forceCompleteSchema, migrateLiveSchema, migrateSchema } from './moveSchemas.js';

// The request schemas of the server APIs (and of flavors and key pairs) as Nova's change them by
// microversion (nova/api/openstack/compute/schemas/servers.py and parameter_types.py), built
// for a version. Formats are Nova's: ipv4, ipv6, uuid, base64 (functions/api/formats.ts).
// `requestSchemas` below lists them all, the one registry of request bodies; `npm run schemas` compiles each at every version
// served, and `checkBody` validates with those compiled validators: nothing compiles at runtime.
// They are most of the validators' size, so they load on the first request with a body
// (loadBodyValidators, from functions/api/app.ts), not at the API's cold start.

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

/** The resize action's value (Nova's flavor_ref, at most 255 characters as a flavor id is). */
export const resizeSchema = {
  type: 'object', required: ['flavorRef'], additionalProperties: false,
  properties: { flavorRef: { ...flavorRef, maxLength: 255 }, 'OS-DCF:diskConfig': diskConfig },
} as const;

/** The reboot action's value: its type, in any of the cases Nova accepts. */
export const rebootSchema = {
  type: 'object', required: ['type'], additionalProperties: false,
  properties: { type: { enum: ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'] } },
} as const;

/** os-resetState's value (admin): the vm_state to set. */
export const resetStateSchema = {
  type: 'object', required: ['state'], additionalProperties: false,
  properties: { state: { enum: ['active', 'error'] } },
} as const;

/**
 * Actions Nova validates no body for at 2.1 to 2.9 (confirmResize, shelve, os-stop, pause,
 * unlock, ...): their schemas, where any, start later (unshelve 2.77, lock 2.73). Nova accepts
 * whatever value they carry (clients send null, Tempest sends {}), and so does taskgate.
 */
export const unvalidatedSchema = {} as const;

/** addSecurityGroup / removeSecurityGroup: the group's name. */
export function securityGroupActionSchema(_v: ApiVersion) {
  return {
    type: 'object', required: ['name'], additionalProperties: false,
    properties: { name: { type: 'string', minLength: 1, maxLength: 255 } },
  };
}

/** The lock action's value: anything before 2.73, then an optional locked_reason. */
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

/** POST /flavors at version v (flavor_manage.py): a description from 2.55. */
export function createFlavorSchema(v: ApiVersion) {
  return {
    type: 'object', required: ['flavor'], additionalProperties: false,
    properties: {
      flavor: {
        type: 'object', required: ['name', 'ram', 'vcpus', 'disk'], additionalProperties: false,
        properties: {
          name: novaName,
          // Nova's flavor_manage schema takes a number too (Tempest's admin tests send one); it is kept as its string.
          id: { type: ['string', 'number', 'null'], minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' },
          ram: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1, maximum: 2147483647 },
          vcpus: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1, maximum: 2147483647 },
          disk: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 0, maximum: 2147483647 },
          'OS-FLV-EXT-DATA:ephemeral': { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 0, maximum: 2147483647 },
          swap: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 0, maximum: 2147483647 },
          rxtx_factor: { type: ['number', 'string'], pattern: '^[0-9]+(\\.[0-9]+)?$', minimum: 0, exclusiveMinimum: 0, maximum: 3.40282e38 },
          'os-flavor-access:is_public': { type: ['boolean', 'string'] },
          ...(isAtLeast(v, '2.55') ? { description } : {}),
        },
      },
    },
  };
}

/** PUT /flavors/{id} (2.55): the description. */
export const updateFlavorBody = {
  type: 'object', required: ['flavor'], additionalProperties: false,
  properties: { flavor: { type: 'object', required: ['description'], additionalProperties: false, properties: { description } } },
} as const;

/** POST /os-keypairs at version v (keypairs.py): a type from 2.2, a user_id from 2.10, a public key required from 2.92. */
export function createKeypairSchema(v: ApiVersion) {
  return {
    type: 'object', required: ['keypair'], additionalProperties: false,
    properties: {
      keypair: {
        type: 'object', required: isAtLeast(v, '2.92') ? ['name', 'public_key'] : ['name'], additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 255 },
          public_key: { type: 'string' },
          ...(isAtLeast(v, '2.2') ? { type: { type: 'string', enum: ['ssh', 'x509'] } } : {}),
          ...(isAtLeast(v, '2.10') ? { user_id: { type: 'string' } } : {}),
        },
      },
    },
  };
}

const always = (schema: object) => (_v: ApiVersion) => schema;

/**
 * Every request schema validated with `checkBody`, by name: what `npm run schemas` compiles (at
 * every version served) and what `checkBody` finds validators for. A fixed schema is a builder
 * that ignores the version.
 */
export const requestSchemas = {
  createServer: createServerSchema,
  updateServer: updateServerSchema,
  rebuild: rebuildSchema,
  lock: lockSchema,
  resize: always(resizeSchema),
  reboot: always(rebootSchema),
  resetState: always(resetStateSchema),
  unvalidated: always(unvalidatedSchema),
  securityGroupAction: securityGroupActionSchema,
  attachVolume: attachVolumeSchema,
  attachInterface: attachInterfaceSchema,
  createFlavor: createFlavorSchema,
  updateFlavor: always(updateFlavorBody),
  createKeypair: createKeypairSchema,
  metadata: always(metadataBody),
  metaItem: always(metaItemBody),
  tags: always(tagsBody),
  tag: always(tag),
  createExtraSpecs: always(createExtraSpecsBody),
  updateExtraSpec: always(updateExtraSpecBody),
  addTenantAccess: always(addTenantAccessBody),
  removeTenantAccess: always(removeTenantAccessBody),
  updateQuotaSet: updateQuotaSetSchema,
  updateQuotaClassSet: updateQuotaClassSetSchema,
  rescue: always(rescueSchema),
  createImage: always(createImageSchema({ name: novaName, metadata })),
  createBackup: always(createBackupSchema({ name: novaName, metadata })),
  changePassword: always(changePasswordSchema),
  consoleOutput: always(consoleOutputSchema),
  triggerCrashDump: always(triggerCrashDumpSchema),
  externalEvents: externalEventsSchema,
  createServerGroup: createServerGroupSchema,
  updateService: always(updateServiceSchema),
  serviceAction: always(serviceActionSchema),
  updateHost: always(updateHostSchema),
  createAggregate: always(createAggregateSchema),
  updateAggregate: always(updateAggregateSchema),
  aggregateAction: always(aggregateActionSchema),
  migrate: (v: ApiVersion) => migrateSchema(v, { boolean, fqdn }),
  migrateLive: (v: ApiVersion) => migrateLiveSchema(v, { boolean, fqdn }),
  evacuate: (v: ApiVersion) => evacuateSchema(v, { boolean, fqdn }),
  forceComplete: always(forceCompleteSchema),
} satisfies Record<string, (v: ApiVersion) => object>;

export type RequestSchemaName = keyof typeof requestSchemas;

/** A compiled validator, as ajv's standalone code makes it. */
type CompiledValidator = ((data: unknown) => boolean) & { errors?: Parameters<typeof describe>[0][] | null };

type VersionedValidators = Record<string, [number, CompiledValidator][] | undefined>;
let bodyValidators: VersionedValidators | undefined;

/**
 * Loads the request bodies' compiled validators (bodyValidators.generated.ts, a chunk of its own
 * in the bundle): before the first `checkBody`. The compile script imports this module before
 * the generated file exists, so nothing here imports it statically.
 */
export async function loadBodyValidators(): Promise<void> {
  bodyValidators ??= (await import('./bodyValidators.generated.js') as unknown as { versionedValidators: VersionedValidators }).versionedValidators;
}

/** The validator compiled for `name` at version v: the last step at or before v's minor. */
function validatorFor(name: RequestSchemaName, v: ApiVersion): CompiledValidator {
  if (!bodyValidators) throw new Error(`checkBody(${name}) before loadBodyValidators: a route that reads a body declares it (functions/api/app.ts loads them)`);
  const steps = bodyValidators[name];
  let found: CompiledValidator | undefined;
  if (steps && isSupported(v)) for (const [minor, fn] of steps) if (minor <= v.minor) found = fn;
  if (!found) throw new Error(`no compiled validator for ${name} at ${versionString(v)}: run \`npm run schemas\``);
  return found;
}

/** Validates `body` with the request schema `name` at version v (compiled ahead of time); Nova's 400. */
export function checkBody<T>(name: RequestSchemaName, v: ApiVersion, body: unknown): T {
  const fn = validatorFor(name, v);
  if (!fn(body)) throw new BadRequest(describe(fn.errors![0]!, body));
  return body as T;
}
