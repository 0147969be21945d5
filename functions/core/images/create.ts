import type { Caller } from '../compute/instance.js';
import { BadRequest, Conflict, Forbidden } from '../shared/errors.js';
import { derivedUuid } from '../shared/ids.js';
import type { Table } from '../shared/table.js';
import { requireVisibilityAllowed } from './access.js';
import { glanceTime, RESERVED_NAMESPACE, type Image, type Visibility } from './image.js';
import { checkLimits } from './quotas.js';
import { checkAgainstImageSchema, invalidObject, pyRepr } from './schema.js';
import { putNewImage } from './store.js';

// POST /v2/images as Glance takes it (glance/api/v2/images.py RequestDeserializer.create and
// ImagesController.create, glance/domain ImageFactory): the image's record, in status queued
// (its data would come by upload, which taskgate does not take), or Glance's refusal, with
// nothing written.

/** Never settable: Glance's 403 "read-only" before it even checks the schema. */
const DISALLOWED = ['direct_url', 'self', 'file', 'schema', 'stores'];
/** Glance sets these itself. */
export const READ_ONLY = ['created_at', 'updated_at', 'status', 'checksum', 'size', 'virtual_size', 'os_hash_algo', 'os_hash_value'];
/** Not properties an image may have. */
export const RESERVED = ['location', 'locations', 'deleted', 'deleted_at'];
/** The base attributes a client sets (tags apart). */
const SETTABLE = ['id', 'name', 'visibility', 'protected', 'os_hidden', 'owner', 'min_disk', 'min_ram', 'container_format', 'disk_format'];
export const MAX_PROPERTY_NAME = 255;

export const readOnly = (key: string) => new Forbidden(`Attribute '${key}' is read-only.`);
export const reserved = (key: string) => new Forbidden(`Attribute '${key}' is reserved.`);
export const isReserved = (key: string) => RESERVED.includes(key) || key.startsWith(RESERVED_NAMESPACE);

export interface NewImageRequest {
  readonly caller: Caller;
  /** The image's id, when the body names none, comes from it: a retry of the request makes the same image. */
  readonly requestId: string;
  readonly body: unknown;
  readonly now: number;
}

/** The record a create body asks for, or Glance's 400 or 403 for it. Writes nothing. */
export function newImage(req: NewImageRequest): Image {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidObject(`${pyRepr(body)} is not of type 'object'`);
  const fields = body as Record<string, unknown>;
  for (const key of DISALLOWED) if (Object.hasOwn(fields, key)) throw readOnly(key);
  checkAgainstImageSchema(fields);
  const base: Record<string, unknown> = {};
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'tags' || SETTABLE.includes(key) || READ_ONLY.includes(key)) continue;
    if ([...key].length > MAX_PROPERTY_NAME) throw new BadRequest('Custom property should not be greater than 255 characters.');
    if (isReserved(key)) throw reserved(key);
    properties[key] = value as string;
  }
  for (const key of SETTABLE) if (Object.hasOwn(fields, key)) base[key] = fields[key];

  // add_image: anyone else's project is the administrator's to create images for.
  const owner = Object.hasOwn(base, 'owner') ? base.owner as string | null : req.caller.projectId;
  if (!req.caller.isAdmin && owner !== req.caller.projectId) {
    throw new Forbidden(`You are not permitted to create images owned by '${owner}'`);
  }
  requireVisibilityAllowed(req.caller, base.visibility as Visibility | undefined);
  for (const key of READ_ONLY) if (Object.hasOwn(fields, key)) throw readOnly(key);

  const at = glanceTime(req.now);
  const image: Image = {
    id: typeof base.id === 'string' ? base.id.toLowerCase() : derivedUuid('image', req.requestId),
    name: (base.name as string | null | undefined) ?? null,
    status: 'queued',
    visibility: (base.visibility as Visibility | undefined) ?? 'shared',
    owner,
    protected: (base.protected as boolean | undefined) ?? false,
    os_hidden: (base.os_hidden as boolean | undefined) ?? false,
    min_disk: (base.min_disk as number | undefined) ?? 0,
    min_ram: (base.min_ram as number | undefined) ?? 0,
    disk_format: (base.disk_format as string | null | undefined) ?? null,
    container_format: (base.container_format as string | null | undefined) ?? null,
    size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null,
    created_at: at, updated_at: at, created_ms: req.now,
    tags: [...new Set((fields.tags as string[] | undefined) ?? [])],
    properties,
    version: 1,
    request_id: req.requestId,
  };
  checkLimits(image);
  return image;
}

/**
 * Creates the image a body asks for. An id already taken is Glance's 409, a deleted image's
 * included; unless this very request took it (a retry of a request whose answer was lost).
 */
export async function createImage(table: Table, req: NewImageRequest): Promise<Image> {
  const image = newImage(req);
  const put = await putNewImage(table, image);
  if (put.written) return image;
  if (put.existing?.request_id === req.requestId) return put.existing;
  throw new Conflict(`Image ID ${image.id} already exists!`);
}
