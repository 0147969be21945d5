import { BadRequest } from '../shared/errors.js';
import { CONTAINER_FORMATS, DISK_FORMATS, IMAGE_STATUSES, VISIBILITIES } from './image.js';

// Glance's image schema (glance/api/v2/images.py get_base_properties, with its default formats),
// the one source for what GET /v2/schemas/image shows and for checking what clients send, with
// Glance's words for a mismatch: python-jsonschema's message behind "Provided object does not
// match schema 'image': ".

type JsonSchema = Readonly<Record<string, unknown>>;

export const IMAGE_PROPERTIES: Readonly<Record<string, JsonSchema>> = {
  id: {
    type: 'string', description: 'An identifier for the image',
    pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
  },
  name: { type: ['null', 'string'], description: 'Descriptive name for the image', maxLength: 255 },
  status: { type: 'string', readOnly: true, description: 'Status of the image', enum: [...IMAGE_STATUSES] },
  visibility: { type: 'string', description: 'Scope of image accessibility', enum: [...VISIBILITIES] },
  protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
  os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
  checksum: { type: ['null', 'string'], readOnly: true, description: 'md5 hash of image contents.', maxLength: 32 },
  os_hash_algo: {
    type: ['null', 'string'], readOnly: true, description: 'Algorithm to calculate the os_hash_value', maxLength: 64,
  },
  os_hash_value: {
    type: ['null', 'string'], readOnly: true, maxLength: 128,
    description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo',
  },
  owner: { type: ['null', 'string'], description: 'Owner of the image', maxLength: 255 },
  size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
  virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
  container_format: { type: ['null', 'string'], description: 'Format of the container', enum: [null, ...CONTAINER_FORMATS] },
  disk_format: { type: ['null', 'string'], description: 'Format of the disk', enum: [null, ...DISK_FORMATS] },
  created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
  updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
  tags: {
    type: 'array', description: 'List of strings related to the image', items: { type: 'string', maxLength: 255 },
  },
  direct_url: { type: 'string', readOnly: true, description: 'URL to access the image file kept in external store' },
  min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
  min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
  self: { type: 'string', readOnly: true, description: 'An image self url' },
  file: { type: 'string', readOnly: true, description: 'An image file url' },
  stores: {
    type: 'string', readOnly: true,
    description: 'Store in which image data resides.  Only present when the operator has enabled multiple stores.  '
      + 'May be a comma-separated list of store identifiers.',
  },
  schema: { type: 'string', readOnly: true, description: 'An image schema url' },
  locations: {
    type: 'array',
    items: {
      type: 'object',
      properties: { url: { type: 'string', maxLength: 255 }, metadata: { type: 'object' } },
      required: ['url', 'metadata'],
    },
    description: 'A set of URLs to access the image file kept in external store',
  },
};

/** Custom properties: any other key, with a string value (Glance's PermissiveSchema). */
const CUSTOM_PROPERTY: JsonSchema = { type: 'string' };

const LINKS = [
  { rel: 'self', href: '{self}' }, { rel: 'enclosure', href: '{file}' }, { rel: 'describedby', href: '{schema}' },
];

/** GET /v2/schemas/image: the schema as Glance serves it (PermissiveSchema.raw). */
export function imageSchemaDocument() {
  return { name: 'image', properties: IMAGE_PROPERTIES, additionalProperties: CUSTOM_PROPERTY, links: LINKS };
}

/** GET /v2/schemas/images: Glance's CollectionSchema of images. */
export function imagesSchemaDocument() {
  return {
    name: 'images',
    properties: {
      images: { type: 'array', items: imageSchemaDocument() },
      first: { type: 'string' }, next: { type: 'string' }, schema: { type: 'string' },
    },
    links: [{ rel: 'first', href: '{first}' }, { rel: 'next', href: '{next}' }, { rel: 'describedby', href: '{schema}' }],
  };
}

const REPR_LENGTH = 64;

/**
 * A value as Python's repr writes it, as python-jsonschema's messages quote it; cut short, so an
 * error never repeats unbounded input.
 */
export function pyRepr(value: unknown): string {
  const text = fullRepr(value);
  return text.length > REPR_LENGTH ? `${text.slice(0, REPR_LENGTH)}...` : text;
}

function fullRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const quote = value.includes('\'') && !value.includes('"') ? '"' : '\'';
    const escaped = value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    return `${quote}${quote === '\'' ? escaped.replace(/'/g, '\\\'') : escaped}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(fullRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as object).map(([k, v]) => `${fullRepr(k)}: ${fullRepr(v)}`).join(', ')}}`;
  }
  return String(value);
}

const typeOf = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
};

const isType = (value: unknown, type: string) => {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
};

/** The first way `value` fails `schema`, in python-jsonschema's words; undefined when it fits. */
function mismatch(value: unknown, schema: JsonSchema): string | undefined {
  if (schema.type !== undefined) {
    const types = ([] as string[]).concat(schema.type as string | string[]);
    if (!types.some((t) => isType(value, t))) return `${pyRepr(value)} is not of type ${types.map((t) => `'${t}'`).join(', ')}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return `${pyRepr(value)} is not one of ${pyRepr(schema.enum)}`;
  if (typeof value === 'string') {
    // jsonschema counts code points, as Python's len does.
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) return `${pyRepr(value)} is too long`;
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      return `${pyRepr(value)} does not match ${pyRepr(schema.pattern)}`;
    }
  }
  if (Array.isArray(value) && schema.items) {
    for (const item of value) {
      const wrong = mismatch(item, schema.items as JsonSchema);
      if (wrong) return wrong;
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (!Object.hasOwn(object, name)) return `${pyRepr(name)} is a required property`;
    }
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const [key, item] of Object.entries(object)) {
      const wrong = Object.hasOwn(properties, key) ? mismatch(item, properties[key]!) : undefined;
      if (wrong) return wrong;
    }
  }
  return undefined;
}

/** Glance's 400 for what does not fit its image schema. */
export function invalidObject(reason: string): BadRequest {
  return new BadRequest(`Provided object does not match schema 'image': ${reason}`);
}

/** Checks (part of) an image against Glance's schema: a base property by its own, any other as a custom property. */
export function checkAgainstImageSchema(image: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(image)) {
    const wrong = mismatch(value, Object.hasOwn(IMAGE_PROPERTIES, key) ? IMAGE_PROPERTIES[key]! : CUSTOM_PROPERTY);
    if (wrong) throw invalidObject(wrong);
  }
}
