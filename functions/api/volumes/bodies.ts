import { BadRequest } from '../../core/shared/errors.js';
import { excerpt } from '../excerpt.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { VOLUME_STATUSES } from '../../core/volumes/volume.js';

// Cinder's request bodies (cinder/api/schemas/volumes.py, volume_actions.py, admin_actions.py),
// checked by hand: each refusal is Cinder's 400 with the field named, before anything is read or
// written. (These are Cinder's schemas, not Nova's: they are not in the compiled ajv set.)

type Json = Record<string, unknown>;

const invalid = (field: string, value: unknown, reason: string) =>
  new BadRequest(`Invalid input for field/attribute ${field}. Value: ${excerpt(JSON.stringify(value ?? null))}. ${reason}`);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function object(body: unknown, field: string): Json {
  if (!isObject(body)) throw invalid(field, body, `${excerpt(JSON.stringify(body ?? null))} is not of type 'object'`);
  return body;
}

function only(body: Json, field: string, allowed: readonly string[]) {
  const extra = Object.keys(body).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw invalid(field, body, `Additional properties are not allowed ('${excerpt(extra)}' was unexpected)`);
}

/** A name or description: string or null, at most 255 characters, outer spaces removed. */
function text(v: unknown, field: string): string | null | undefined {
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v !== 'string') throw invalid(field, v, `${excerpt(JSON.stringify(v))} is not of type 'string', 'null'`);
  const trimmed = v.trim();
  if (trimmed.length > 255) throw invalid(field, v, `'${excerpt(v)}' is too long`);
  return trimmed;
}

/** Cinder's metadata: string keys of 1 to 255 characters, string values of at most 255. */
export function metadata(v: unknown, field = 'metadata'): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const m = object(v, field);
  for (const [k, value] of Object.entries(m)) {
    if (k.length < 1 || k.length > 255) throw invalid(field, v, `'${excerpt(k)}' does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{1,255}$'`);
    if (typeof value !== 'string') throw invalid(`${field}/${k}`, value, `${excerpt(JSON.stringify(value))} is not of type 'string'`);
    if (value.length > 255) throw invalid(`${field}/${k}`, value, `'${excerpt(value)}' is too long`);
  }
  return m as Record<string, string>;
}

/** A volume size: an integer, or a string of digits, at least 1 (Cinder's volume_size). */
function size(v: unknown, field: string): number {
  const n = typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (typeof v !== 'number' && typeof v !== 'string') throw invalid(field, v, `${excerpt(JSON.stringify(v ?? null))} is not of type 'integer', 'string'`);
  if (!Number.isSafeInteger(n) || n > 2_147_483_647) throw invalid(field, v, `'${excerpt(String(v))}' does not match '^[0-9]+$'`);
  if (n < 1) throw invalid(field, v, `${n} is less than the minimum of 1`);
  return n;
}

function bool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false|1|0|on|off|yes|no|t|f|y|n)$/i.test(v)) return /^(true|1|on|yes|t|y)$/i.test(v);
  throw invalid(field, v, `${excerpt(JSON.stringify(v))} is not of type 'boolean', 'string', 'null'`);
}

export interface CreateBody {
  readonly size: number;
  readonly name: string | null;
  readonly description: string | null;
  readonly volumeType?: string;
  readonly metadata: Record<string, string>;
  readonly availabilityZone?: string;
}

const CREATE_FIELDS = [
  'name', 'description', 'display_name', 'display_description', 'volume_type', 'metadata', 'snapshot_id', 'source_volid',
  'consistencygroup_id', 'size', 'availability_zone', 'multiattach', 'image_id', 'imageRef',
];

/** POST /volumes: `{"volume": {...}}`. Sources (snapshot, volume, image, backup) taskgate does not have. */
export function createBody(body: unknown, v: ApiVersion): CreateBody {
  const top = object(body, 'body');
  only(top, 'body', ['volume', 'OS-SCH-HNT:scheduler_hints']);
  if (!('volume' in top)) throw invalid('body', body, "'volume' is a required property");
  const vol = object(top.volume, 'volume');
  const fields = [...CREATE_FIELDS, ...(isAtLeast(v, '3.13') ? ['group_id'] : []), ...(isAtLeast(v, '3.47') ? ['backup_id'] : [])];
  if (isAtLeast(v, '3.53')) only(vol, 'volume', fields);
  for (const source of ['snapshot_id', 'source_volid', 'image_id', 'imageRef', 'backup_id', 'consistencygroup_id', 'group_id']) {
    if (vol[source] !== undefined && vol[source] !== null && vol[source] !== '') {
      throw new BadRequest(`Invalid input received: ${source} is not supported: taskgate creates only empty volumes.`);
    }
  }
  if (bool(vol.multiattach, 'multiattach')) {
    throw new BadRequest('multiattach parameter has been removed. The default behavior is to use multiattach enabled volume types. '
      + 'Contact your administrator to create a multiattach enabled volume type and use it to create multiattach volumes.');
  }
  if (vol.size === undefined || vol.size === null) {
    throw new BadRequest('Invalid input received: Invalid volume size provided for create request: None (size argument must be an '
      + 'integer (or string representation of an integer) and greater than zero).');
  }
  const type = vol.volume_type;
  if (type !== undefined && type !== null && (typeof type !== 'string' || type.length > 255)) {
    throw invalid('volume_type', type, `${excerpt(JSON.stringify(type))} is not of type 'string', 'null'`);
  }
  const az = vol.availability_zone;
  if (az !== undefined && az !== null && (typeof az !== 'string' || az.length < 1 || az.length > 255)) {
    throw invalid('availability_zone', az, `${excerpt(JSON.stringify(az))} is not of type 'string', 'null'`);
  }
  return {
    size: size(vol.size, 'size'),
    name: text(vol.name, 'name') ?? text(vol.display_name, 'display_name') ?? null,
    description: text(vol.description, 'description') ?? text(vol.display_description, 'display_description') ?? null,
    ...(typeof type === 'string' && type !== '' ? { volumeType: type } : {}),
    metadata: metadata(vol.metadata) ?? {},
    ...(typeof az === 'string' ? { availabilityZone: az } : {}),
  };
}

export interface UpdateBody {
  readonly name?: string | null;
  readonly description?: string | null;
  readonly metadata?: Record<string, string>;
}

/** PUT /volumes/{id}: `{"volume": {"name", "description", "metadata"}}`. */
export function updateBody(body: unknown, v: ApiVersion): UpdateBody {
  const top = object(body, 'body');
  only(top, 'body', ['volume']);
  if (!('volume' in top)) throw invalid('body', body, "'volume' is a required property");
  const vol = object(top.volume, 'volume');
  if (isAtLeast(v, '3.53')) only(vol, 'volume', ['name', 'description', 'display_name', 'display_description', 'metadata']);
  const name = 'name' in vol ? text(vol.name, 'name') : 'display_name' in vol ? text(vol.display_name, 'display_name') : undefined;
  const description = 'description' in vol ? text(vol.description, 'description')
    : 'display_description' in vol ? text(vol.display_description, 'display_description') : undefined;
  const meta = 'metadata' in vol ? metadata(vol.metadata) ?? {} : undefined;
  return { ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}), ...(meta ? { metadata: meta } : {}) };
}

export type VolumeAction =
  | { readonly action: 'os-extend'; readonly newSize: number }
  | { readonly action: 'os-reset_status'; readonly status?: string };

/** POST /volumes/{id}/action: one action, the ones taskgate serves; Cinder's 400 for the rest. */
export function actionBody(body: unknown): VolumeAction {
  const top = object(body, 'body');
  const names = Object.keys(top);
  if (names.length !== 1) throw new BadRequest('Malformed request body');
  const name = names[0]!;
  if (name === 'os-extend') {
    const args = object(top[name], 'os-extend');
    only(args, 'os-extend', ['new_size']);
    if (!('new_size' in args)) throw invalid('os-extend', args, "'new_size' is a required property");
    return { action: name, newSize: size(args.new_size, 'os-extend/new_size') };
  }
  if (name === 'os-reset_status') {
    const args = object(top[name], 'os-reset_status');
    only(args, 'os-reset_status', ['status', 'attach_status', 'migration_status']);
    const status = args.status;
    if (status !== undefined && status !== null && !(typeof status === 'string' && (VOLUME_STATUSES as readonly string[]).includes(status.toLowerCase()))) {
      throw new BadRequest(`Invalid input received: '${excerpt(String(status))}' is not a valid status`);
    }
    if (args.attach_status !== undefined || args.migration_status !== undefined) {
      throw new BadRequest('Invalid input received: taskgate resets a volume\'s status only (attach_status and migration_status are not kept).');
    }
    if (typeof status !== 'string') throw new BadRequest('Must specify \'status\', \'attach_status\' or \'migration_status\' for update.');
    return { action: name, status: status.toLowerCase() };
  }
  throw new BadRequest(`There is no such action: ${excerpt(name)}`);
}
