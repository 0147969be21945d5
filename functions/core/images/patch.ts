import type { Caller } from '../compute/instance.js';
import { BadRequest, Conflict, Forbidden, NotFound } from '../shared/errors.js';
import type { Table } from '../shared/table.js';
import { isVisibleTo, requireOwner, requireVisibilityAllowed } from './access.js';
import { isReserved, MAX_PROPERTY_NAME, READ_ONLY, readOnly, reserved } from './create.js';
import { glanceTime, isDeleted, type Image, type Visibility } from './image.js';
import { checkLimits } from './quotas.js';
import { checkAgainstImageSchema, pyRepr } from './schema.js';
import { changeImage } from './store.js';

// PATCH /v2/images/{id}: a JSON patch of the image, as Glance reads it (RequestDeserializer.update:
// the operations, their JSON pointers, what may be changed) and applies it (ImagesController
// _do_add, _do_replace, _do_remove). Every operation is checked and applied to the image as read;
// the result is written at once, on the version read (store.ts changeImage), or nothing is.

export type PatchOp = 'add' | 'remove' | 'replace';
const OPS: readonly PatchOp[] = ['add', 'remove', 'replace'];

/** Glance's media types for a patch: draft 4 (v2.0) names the op as a key, draft 10 (v2.1) in `op`. */
export const PATCH_MEDIA_TYPES = {
  'application/openstack-images-v2.0-json-patch': 4,
  'application/openstack-images-v2.1-json-patch': 10,
} as const;
export type PatchDraft = (typeof PATCH_MEDIA_TYPES)[keyof typeof PATCH_MEDIA_TYPES];

export interface ImageChange {
  readonly op: PatchOp;
  /** The JSON pointer, decoded: one token (the attribute) for everything taskgate keeps. */
  readonly path: readonly string[];
  readonly value?: unknown;
  readonly draft: PatchDraft;
}

/** Image attributes a patch may change (the rest are read-only); `owner` is the administrator's. */
const ATTRIBUTES = ['name', 'visibility', 'protected', 'os_hidden', 'owner', 'min_disk', 'min_ram', 'disk_format', 'container_format', 'tags'] as const;
type Attribute = (typeof ATTRIBUTES)[number];
const isAttribute = (key: string): key is Attribute => (ATTRIBUTES as readonly string[]).includes(key);
/** Read-only in a patch: what Glance sets, and the links it shows. */
const PATCH_READ_ONLY = [...READ_ONLY, 'direct_url', 'self', 'file', 'schema', 'stores', 'id'];

/** A value as Python's `%s` writes it into Glance's messages. */
const pyStr = (value: unknown) => (typeof value === 'string' ? value : pyRepr(value));

const ANY_OP = OPS.join(', ');

function operationOf(raw: Record<string, unknown>, draft: PatchDraft): PatchOp {
  if (draft === 10) {
    if (raw.op === undefined || raw.op === null) {
      throw new BadRequest(`Unable to find \`op\` in JSON Schema change. It must be one of the following: ${ANY_OP}.`);
    }
    if (!OPS.includes(raw.op as PatchOp)) {
      throw new BadRequest(`Invalid operation: \`${pyStr(raw.op)}\`. It must be one of the following: ${ANY_OP}.`);
    }
    return raw.op as PatchOp;
  }
  const named = OPS.filter((op) => Object.hasOwn(raw, op));
  if (named.length > 1) throw new BadRequest('Operation objects must contain only one member named "add", "remove", or "replace".');
  if (named.length === 0) throw new BadRequest('Operation objects must contain exactly one member named "add", "remove", or "replace".');
  return named[0]!;
}

/** Glance's checks of a JSON pointer (_validate_json_pointer), then its tokens (_decode_json_pointer). */
function decodePointer(pointer: unknown): string[] {
  const text = pyStr(pointer);
  if (typeof pointer !== 'string' || !pointer.startsWith('/')) throw new BadRequest(`Pointer \`${text}\` does not start with "/".`);
  if (/\/\s*?\//.test(pointer.slice(1))) throw new BadRequest(`Pointer \`${text}\` contains adjacent "/".`);
  if (pointer.length > 1 && pointer.endsWith('/')) throw new BadRequest(`Pointer \`${text}\` end with "/".`);
  if (pointer.slice(1).trim() === '/') throw new BadRequest(`Pointer \`${text}\` does not contains valid token.`);
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) {
    throw new BadRequest(`Pointer \`${text}\` contains "~" not part of a recognized escape sequence.`);
  }
  return pointer.replace(/^\/+/, '').split('/').map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~').trim());
}

/** Locations are the one attribute a pointer goes into (`/locations/0`); everything else is one token. */
function checkDepth(op: PatchOp, path: readonly string[]): void {
  const depth = path[0] === 'locations' ? (op === 'replace' ? 1 : 2) : 1;
  if (path.length !== depth || path[0] === '') {
    throw new BadRequest(`Invalid JSON pointer for this resource: '/${path.join('/')}'`);
  }
}

/**
 * A patch body as Glance's deserializer reads it, before any image is read: Glance's 400 for
 * what is malformed, its 403 for an attribute no patch may touch.
 */
export function parseImagePatch(body: unknown, draft: PatchDraft): ImageChange[] {
  if (!Array.isArray(body)) throw new BadRequest('Request body must be a JSON array of operation objects.');
  return body.map((raw: unknown) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new BadRequest('Operations must be JSON objects.');
    const change = raw as Record<string, unknown>;
    const op = operationOf(change, draft);
    if (draft === 10 && !Object.hasOwn(change, 'path')) throw new BadRequest('Unable to find \'path\' in JSON Schema change');
    const path = decodePointer(draft === 10 ? change.path : change[op]);
    checkDepth(op, path);
    if (op !== 'remove' && !Object.hasOwn(change, 'value')) throw new BadRequest(`Operation "${op}" requires a member named "value".`);
    const root = path[0]!;
    if (PATCH_READ_ONLY.includes(root)) throw readOnly(root);
    if (root !== 'locations' && isReserved(root)) throw reserved(root);
    if (!isAttribute(root) && root !== 'locations' && [...root].length > MAX_PROPERTY_NAME) {
      throw new BadRequest('Custom property should not be greater than 255 characters.');
    }
    if (op !== 'remove') checkAgainstImageSchema({ [root]: path.length === 1 ? change.value : [change.value] });
    return { op, path, ...(op !== 'remove' ? { value: change.value } : {}), draft };
  });
}

const LOCATIONS_REFUSED: Record<PatchOp, string> = {
  add: 'It\'s not allowed to add locations if locations are invisible.',
  remove: 'It\'s not allowed to remove locations if locations are invisible.',
  replace: 'It\'s not allowed to update locations if locations are invisible.',
};

/** One operation on the image as it stands, with Glance's checks (policy, then the operation's own). */
function applyChange(caller: Caller, image: Image, change: ImageChange): Image {
  const root = change.path[0]!;
  if (root === 'locations') {
    // taskgate keeps no image data, so no locations: Glance's answer with show_multiple_locations off.
    if (change.op === 'replace' && Array.isArray(change.value) && change.value.length === 0) {
      throw new Forbidden('Cannot set locations to empty list.');
    }
    throw new Forbidden(LOCATIONS_REFUSED[change.op]);
  }
  if (root === 'owner' && change.op !== 'remove' && !caller.isAdmin) throw new Forbidden('Owner can\'t be updated by non admin.');
  if (root === 'visibility' && change.op !== 'remove') requireVisibilityAllowed(caller, change.value as Visibility);
  requireOwner(caller, image, 'modify_image', `No image found with ID ${image.id}`);

  if (isAttribute(root)) {
    if (change.op === 'remove') throw new Forbidden(`Property ${root} may not be removed.`);
    if (change.op === 'add' && change.draft === 4) throw new Conflict(`Property ${root} already present.`);
    if ((root === 'disk_format' || root === 'container_format') && !['queued', 'importing'].includes(image.status)) {
      throw new Forbidden(`Attribute ${root} can be only replaced for a queued image.`);
    }
    const value = root === 'tags' ? [...new Set(change.value as string[])] : change.value;
    return { ...image, [root]: value };
  }
  const exists = Object.hasOwn(image.properties, root);
  if (change.op === 'remove' || change.op === 'replace') {
    if (!exists) throw new Conflict(`Property ${root} does not exist.`);
    if (change.op === 'remove') {
      const { [root]: _removed, ...rest } = image.properties;
      return { ...image, properties: rest };
    }
  } else if (exists && change.draft === 4) {
    throw new Conflict(`Property ${root} already present.`);
  }
  return { ...image, properties: { ...image.properties, [root]: change.value as string } };
}

/** The image after the patch, or the first operation's refusal. Pure: the caller writes it. */
export function applyImagePatch(caller: Caller, image: Image, changes: readonly ImageChange[], now: number): Image {
  if (changes.length === 0) return image;
  const changed = changes.reduce((current, change) => applyChange(caller, current, change), image);
  checkLimits(changed);
  return { ...changed, updated_at: glanceTime(now) };
}

/** The image the caller may see, else Glance's 404 (a deleted image, another project's private one). */
export function visibleImage(caller: Caller, id: string, image: Image | undefined, notFound = `No image found with ID ${id}`): Image {
  if (!image || isDeleted(image) || !isVisibleTo(caller, image)) throw new NotFound(notFound);
  return image;
}

/** Applies a parsed patch to the image, on the version read; nothing is written when a check refuses. */
export function patchImage(table: Table, caller: Caller, id: string, changes: readonly ImageChange[], now: number): Promise<Image> {
  return changeImage(table, id, (current) => applyImagePatch(caller, visibleImage(caller, id, current), changes, now));
}
