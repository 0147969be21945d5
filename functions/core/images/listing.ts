import type { Caller } from '../compute/instance.js';
import { BadRequest, Forbidden } from '../shared/errors.js';
import type { Table } from '../shared/table.js';
import { isVisibleTo } from './access.js';
import { isDeleted, VISIBILITIES, type Image, type Visibility } from './image.js';
import { allImages } from './store.js';

// GET /v2/images as Glance answers it (RequestDeserializer.index, ImagesController.index, and
// its database's image_get_all): the filters, the sort, the page after a marker, and whether a
// next page may follow. The query arrives as its parameters in order, each with all its values.

export const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';
export interface Sort { readonly key: SortKey; readonly dir: SortDir }

/** Glance's limit_param_default and api_limit_max. */
export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 1000;

export interface ImageQuery {
  readonly filters: readonly ((image: Image) => boolean)[];
  /** A visibility asked for, `all`, or none (then another project's community images are left out). */
  readonly visibility?: Visibility | 'all';
  readonly sort: readonly Sort[];
  readonly marker?: string;
  readonly limit: number;
}

export type QueryParams = Readonly<Record<string, readonly string[]>>;

const MEMBER_STATUSES = ['pending', 'accepted', 'rejected', 'all'];
/** Columns a filter compares as they are; any other name filters on a custom property. */
const COLUMNS = ['name', 'disk_format', 'container_format', 'size', 'virtual_size', 'status', 'visibility', 'checksum',
  'os_hash_algo', 'os_hash_value', 'min_disk', 'min_ram', 'owner', 'protected', 'os_hidden', 'id', 'created_at', 'updated_at'] as const;
type Column = (typeof COLUMNS)[number];
const isColumn = (name: string): name is Column => (COLUMNS as readonly string[]).includes(name);
const NUMERIC = ['size', 'virtual_size', 'min_disk', 'min_ram'];
/** Parameters that are not filters. */
const NOT_FILTERS = ['limit', 'marker', 'member_status', 'sort', 'sort_key', 'sort_dir', 'tag', 'visibility'];

/** glance/common/utils.py split_filter_op: `op:value`, `eq` when no operator (or the value is a date with colons). */
function splitFilterOp(expression: string): { op: string; value: string } {
  const at = expression.indexOf(':');
  if (at < 0 || !Number.isNaN(isoTime(expression))) return { op: 'eq', value: expression };
  return { op: expression.slice(0, at), value: expression.slice(at + 1) };
}

/** glance/common/utils.py split_filter_value_for_quotes: a comma-separated list, double quotes keeping commas. */
function splitValues(list: string): string[] {
  const values: string[] = [];
  for (const m of list.matchAll(/"((?:[^"\\]|\\.)*)"|([^,]+)/g)) {
    values.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!.trim());
  }
  return values;
}

/** oslo's parse_isotime: an ISO 8601 date-time, NaN for anything else. */
function isoTime(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!m) return NaN;
  const zone = m[3] ? m[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2') : 'Z';
  return Date.parse(`${m[1]}T${m[2]}${zone}`);
}

const columnText = (image: Image, column: Column): string | undefined => {
  const value = image[column];
  return value === null || value === undefined ? undefined : String(value);
};

function listFilter(column: 'name' | 'id' | 'status' | 'container_format' | 'disk_format', expression: string): (image: Image) => boolean {
  const { op, value } = splitFilterOp(expression);
  if (op === 'in') {
    const wanted = splitValues(value);
    return (image) => wanted.includes(columnText(image, column) ?? '\0');
  }
  if (op !== 'eq') throw new BadRequest(`Unable to filter by unknown operator '${op}'.`);
  return (image) => columnText(image, column) === value;
}

const COMPARISONS: Record<string, (a: number, b: number) => boolean> = {
  gt: (a, b) => a > b, gte: (a, b) => a >= b, lt: (a, b) => a < b, lte: (a, b) => a <= b, eq: (a, b) => a === b, neq: (a, b) => a !== b,
};

function timeFilter(column: 'created_at' | 'updated_at', expression: string): (image: Image) => boolean {
  const { op, value } = splitFilterOp(expression);
  const threshold = isoTime(value);
  if (Number.isNaN(threshold)) throw new BadRequest(`Bad "${column}" query filter format. Use ISO 8601 DateTime notation.`);
  const compare = COMPARISONS[op];
  if (!compare) throw new BadRequest('Unable to filter using the specified operator.');
  return (image) => compare(Date.parse(image[column]), threshold);
}

function booleanFilter(name: 'protected' | 'os_hidden', value: string): (image: Image) => boolean {
  if (value !== 'true' && value !== 'false') {
    throw new BadRequest(`Invalid value '${value}' for '${name}' filter. Valid values are 'true' or 'false'.`);
  }
  return (image) => image[name] === (value === 'true');
}

function filterFor(name: string, value: string): (image: Image) => boolean {
  if (name === 'name' || name === 'id' || name === 'status' || name === 'container_format' || name === 'disk_format') {
    return listFilter(name, value);
  }
  if (name === 'created_at' || name === 'updated_at') return timeFilter(name, value);
  if (name === 'protected') return booleanFilter(name, value);
  const range = /^(.+)_(min|max)$/.exec(name);
  if (range && isColumn(range[1]!)) {
    const bound = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (Number.isNaN(bound)) throw new BadRequest('Unable to filter on a range with a non-numeric value.');
    const column = range[1] as Column;
    return (image) => {
      const actual = image[column];
      return typeof actual === 'number' && (range[2] === 'min' ? actual >= bound : actual <= bound);
    };
  }
  if (isColumn(name)) return (image) => columnText(image, name) === value;
  return (image) => image.properties[name] === value;
}

const first = (params: QueryParams, name: string) => params[name]?.[0];

function sortOf(params: QueryParams): Sort[] {
  const key = (k: string): SortKey => {
    if (!(SORT_KEYS as readonly string[]).includes(k)) {
      throw new BadRequest(`Invalid sort key: ${k}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
    }
    return k as SortKey;
  };
  const dir = (d: string): SortDir => {
    if (d !== 'asc' && d !== 'desc') throw new BadRequest(`Invalid sort direction: ${d}`);
    return d;
  };
  const keys: SortKey[] = [];
  const dirs: SortDir[] = [];
  if (params.sort) {
    if (params.sort_key || params.sort_dir) throw new BadRequest('Old and new sorting syntax cannot be combined');
    for (const part of params.sort.at(-1)!.trim().split(',')) {
      const at = part.indexOf(':');
      keys.push(key((at < 0 ? part : part.slice(0, at)).trim()));
      dirs.push(dir((at < 0 ? '' : part.slice(at + 1)).trim() || 'desc'));
    }
  } else {
    for (const k of params.sort_key ?? []) keys.push(key(k.trim()));
    for (const d of params.sort_dir ?? []) dirs.push(dir(d.trim()));
    if (dirs.length > 1 && dirs.length !== keys.length) throw new BadRequest('Number of sort dirs does not match the number of sort keys');
  }
  if (keys.length === 0) keys.push('created_at');
  // One direction applies to every key; either way created_at and id end the order, so that a
  // marker names one place in it.
  const fallback: SortDir = dirs.length === 1 ? dirs[0]! : 'desc';
  const sort = keys.map((k, i) => ({ key: k, dir: dirs.length === 1 ? dirs[0]! : dirs[i] ?? fallback }));
  for (const k of ['created_at', 'id'] as const) if (!keys.includes(k)) sort.push({ key: k, dir: fallback });
  return sort;
}

/** A list request's parameters as Glance reads them, or its 400. */
export function imageListQuery(params: QueryParams): ImageQuery {
  const limitText = first(params, 'limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== undefined) {
    if (!/^\s*[+-]?\d+\s*$/.test(limitText)) throw new BadRequest('limit param must be an integer');
    limit = Number(limitText);
    if (limit < 0) throw new BadRequest('limit param must be positive');
  }
  const memberStatus = first(params, 'member_status');
  if (memberStatus !== undefined && !MEMBER_STATUSES.includes(memberStatus)) throw new BadRequest(`Invalid status: ${memberStatus}`);
  const visibility = first(params, 'visibility');
  if (visibility && !([...VISIBILITIES, 'all'] as string[]).includes(visibility)) {
    throw new BadRequest(`Invalid visibility value: ${visibility}`);
  }
  if (first(params, 'changes-since')) throw new BadRequest('The "changes-since" filter is no longer available on v2.');
  const osHidden = (first(params, 'os_hidden') ?? 'false').toLowerCase();
  if (osHidden !== 'true' && osHidden !== 'false') {
    throw new BadRequest(`Invalid value '${osHidden}' for 'os_hidden' filter. Valid values are 'true' or 'false'.`);
  }
  const filters: ((image: Image) => boolean)[] = [(image) => image.os_hidden === (osHidden === 'true')];
  for (const [name, values] of Object.entries(params)) {
    if (NOT_FILTERS.includes(name) || name === 'os_hidden' || values.length === 0) continue;
    filters.push(filterFor(name, values.at(-1)!));
  }
  const tags = (params.tag ?? []).map((t) => t.trim());
  if (tags.length > 0) filters.push((image) => tags.every((t) => image.tags.includes(t)));
  return {
    filters, sort: sortOf(params), limit: Math.min(limit, MAX_LIMIT),
    ...(visibility ? { visibility: visibility as Visibility | 'all' } : {}),
    ...(first(params, 'marker') !== undefined ? { marker: first(params, 'marker') } : {}),
  };
}

type Sortable = string | number | boolean | null;

/** SQL's order: NULL before any value. */
function compareValues(a: Sortable, b: Sortable): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

function compareImages(sort: readonly Sort[], a: Image, b: Image): number {
  for (const { key, dir } of sort) {
    const c = compareValues(a[key], b[key]) || (key === 'created_at' ? compareValues(a.created_ms ?? 0, b.created_ms ?? 0) : 0);
    if (c !== 0) return dir === 'asc' ? c : -c;
  }
  return 0;
}

/** Whether Glance's database would return the image to this caller for this query (before paging). */
function listed(caller: Caller, query: ImageQuery, image: Image): boolean {
  // Killed images are never listed (glance/db/sqlalchemy/api.py), deleted ones not on v2.
  if (isDeleted(image) || image.status === 'killed' || !isVisibleTo(caller, image)) return false;
  const ownProject = image.owner !== null && image.owner === caller.projectId;
  if (query.visibility === undefined) {
    if (image.visibility === 'community' && !ownProject) return false;
  } else if (query.visibility !== 'all' && image.visibility !== query.visibility) {
    return false;
  }
  return query.filters.every((matches) => matches(image));
}

export interface ImagePage {
  readonly images: readonly Image[];
  /** The last image's id when the page is full: another page may follow. */
  readonly nextMarker?: string;
}

/** One page of the images the caller may see that the query selects, in its order. */
export async function listImages(table: Table, caller: Caller, query: ImageQuery): Promise<ImagePage> {
  const all = await allImages(table);
  let candidates = all.filter((image) => listed(caller, query, image)).sort((a, b) => compareImages(query.sort, a, b));
  if (query.marker !== undefined) {
    const marker = all.find((image) => image.id === query.marker && !isDeleted(image));
    if (!marker) throw new BadRequest(`No image found with ID ${query.marker}`);
    if (!isVisibleTo(caller, marker)) throw new Forbidden(`Forbidding request, image ${query.marker} not visible`);
    candidates = candidates.filter((image) => compareImages(query.sort, image, marker) > 0);
  }
  const images = candidates.slice(0, query.limit);
  return { images, ...(images.length > 0 && images.length === query.limit ? { nextMarker: images.at(-1)!.id } : {}) };
}
