import { BadRequest, NotFound } from '../../core/shared/errors.js';
import { excerpt } from '../excerpt.js';
import { shownStatus, volumeNotFound, type Volume } from '../../core/volumes/volume.js';
import { volumeTypeById } from '../../core/volumes/types.js';

// GET /volumes[/detail] as Cinder reads its query (cinder/api/common.py, v3/volumes.py):
// filters, `sort` (or the deprecated sort_key/sort_dir), `marker` and `limit`, and the next link.
// A project's volumes are bounded by its quota, so a page is cut from the whole filtered list.

/** Cinder's osapi_max_limit. */
export const MAX_LIMIT = 1000;

const truthy = (v: string) => ['true', '1', 'on', 'yes', 't', 'y'].includes(v.toLowerCase());

export const isAllTenants = (q: Record<string, string | undefined>) => q.all_tenants !== undefined && (q.all_tenants === '' || truthy(q.all_tenants));

/** Cinder's metadata filter is a Python dict's text (`{'k': 'v'}`), as cinderclient sends it. */
function metadataFilter(text: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(text.replace(/'/g, '"'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
    }
  } catch { /* below */ }
  throw new BadRequest(`Invalid input received: Invalid metadata filter: ${excerpt(text)}`);
}

const SORTABLE: Record<string, (v: Volume) => string | number> = {
  created_at: (v) => v.created, updated_at: (v) => v.updated, id: (v) => v.id, name: (v) => v.name ?? '', status: (v) => shownStatus(v),
  size: (v) => v.size, availability_zone: (v) => v.availabilityZone, bootable: (v) => String(v.bootable),
  volume_type: (v) => volumeTypeById(v.volumeTypeId).name, display_name: (v) => v.name ?? '',
};

function sortOrder(q: Record<string, string | undefined>): [string, 'asc' | 'desc'][] {
  if (q.sort !== undefined && (q.sort_key !== undefined || q.sort_dir !== undefined)) {
    throw new BadRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.");
  }
  const pairs = q.sort !== undefined
    ? q.sort.split(',').map((s) => { const [k, d] = s.split(':'); return [k!.trim(), (d ?? 'desc').trim()]; })
    : [[(q.sort_key ?? 'created_at').trim(), (q.sort_dir ?? 'desc').trim()]];
  return pairs.map(([key, dir]) => {
    if (!Object.hasOwn(SORTABLE, key!)) throw new BadRequest(`Invalid input received: Invalid sort key ${excerpt(key)}`);
    if (dir !== 'asc' && dir !== 'desc') throw new BadRequest(`Invalid input received: Unknown sort direction, must be 'desc' or 'asc'`);
    return [key!, dir];
  });
}

export function limitOf(q: Record<string, string | undefined>): number {
  if (q.limit === undefined) return MAX_LIMIT;
  if (!/^\s*[+-]?\d+\s*$/.test(q.limit)) throw new BadRequest('limit param must be an integer');
  const limit = Number(q.limit);
  if (limit < 0) throw new BadRequest('limit param must be positive');
  return Math.min(limit, MAX_LIMIT);
}

/** One page of `volumes` for the query, and whether there is a next one. */
export function page(volumes: readonly Volume[], q: Record<string, string | undefined>): { items: Volume[]; more: boolean } {
  const filters: ((v: Volume) => boolean)[] = [];
  if (q.name !== undefined) filters.push((v) => v.name === q.name);
  if (q.status !== undefined) filters.push((v) => shownStatus(v) === q.status);
  if (q.availability_zone !== undefined) filters.push((v) => v.availabilityZone === q.availability_zone);
  if (q.bootable !== undefined) filters.push((v) => v.bootable === truthy(q.bootable!));
  if (q.size !== undefined) filters.push((v) => String(v.size) === q.size);
  if (q.metadata !== undefined) {
    const wanted = metadataFilter(q.metadata);
    filters.push((v) => Object.entries(wanted).every(([k, val]) => v.metadata?.[k] === val));
  }
  const order = sortOrder(q);
  const sorted = volumes.filter((v) => filters.every((f) => f(v))).sort((a, b) => {
    for (const [key, dir] of order) {
      const [x, y] = [SORTABLE[key]!(a), SORTABLE[key]!(b)];
      if (x !== y) return (x < y ? -1 : 1) * (dir === 'asc' ? 1 : -1);
    }
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
  let from = 0;
  if (q.marker !== undefined) {
    const at = sorted.findIndex((v) => v.id === q.marker!.toLowerCase());
    if (at < 0) throw new NotFound(volumeNotFound(excerpt(q.marker)));
    from = at + 1;
  }
  const limit = limitOf(q);
  const items = sorted.slice(from, from + limit);
  // Cinder's rule: a next link when the page is as full as it may be.
  return { items, more: items.length > 0 && items.length === limit };
}

/** Cinder's `volumes_links`: the query again, with the last volume as the marker. */
export function nextLink(href: string, q: Record<string, string | undefined>, last: Volume) {
  const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'marker'));
  params.set('marker', last.id);
  return [{ rel: 'next', href: `${href}?${params.toString()}` }];
}
