import { invalidInput } from '../../core/networks/model.js';
import { canonicalIp } from '../../core/networks/ip.js';
import { excerpt } from '../excerpt.js';
import type { ApiContext, ApiEvent } from '../http.js';

// Neutron's list conventions over views: any attribute of the resource is a filter (several
// values: any of them), `fields` picks attributes, `sort_key`/`sort_dir` order, `limit` and
// `marker` page, and `<collection>_links` point at the next and previous pages. A filter on what
// the resource does not have is Neutron's 400 (its filter-validation extension).

type View = Record<string, unknown>;

const CONTROL = new Set(['limit', 'marker', 'fields', 'sort_key', 'sort_dir', 'page_reverse']);

/** Every value of each query parameter (API Gateway gives the repeated ones in the multi-value map). */
export function queryValues(event: ApiEvent): Record<string, string[]> {
  const multi = event.multiValueQueryStringParameters ?? {};
  const single = event.queryStringParameters ?? {};
  const out: Record<string, string[]> = {};
  for (const key of new Set([...Object.keys(multi), ...Object.keys(single)])) {
    const values = multi[key] ?? (single[key] !== undefined ? [single[key]!] : []);
    out[key] = values.filter((v): v is string => typeof v === 'string');
  }
  return out;
}

function matches(value: unknown, wanted: string): boolean {
  if (typeof value === 'boolean') return wanted.toLowerCase() === String(value);
  if (typeof value === 'number') return Number(wanted) === value;
  if (value === null) return wanted === '' || wanted === 'None';
  if (Array.isArray(value)) return value.some((v) => matches(v, wanted));
  return String(value) === wanted;
}

/** Ports' `fixed_ips=ip_address=10.0.0.5` (or `subnet_id=...`, `ip_address_substr=...`). */
function fixedIpMatches(view: View, wanted: string): boolean {
  const [key, ...rest] = wanted.split('=');
  const value = rest.join('=');
  const ips = (view.fixed_ips as { ip_address: string; subnet_id: string }[] | undefined) ?? [];
  if (key === 'ip_address') return ips.some((f) => f.ip_address === (canonicalIp(value) ?? value));
  if (key === 'subnet_id') return ips.some((f) => f.subnet_id === value);
  if (key === 'ip_address_substr') return ips.some((f) => f.ip_address.includes(value));
  throw invalidInput(`Invalid input for operation: '${excerpt(wanted)}' is not a valid fixed_ips filter.`);
}

const compare = (a: unknown, b: unknown) => {
  const [x, y] = [a ?? '', b ?? ''];
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
};

function pageLimit(values: string[] | undefined): number | undefined {
  const text = values?.[0];
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw invalidInput(`Limit must be an integer 0 or greater and not '${excerpt(text)}'`);
  const limit = Number(text);
  return limit === 0 ? undefined : limit;
}

/** The list answer `{<collection>: [...], <collection>_links?: [...]}` of `views` as the query asks. */
export function listAnswer(event: ApiEvent, ctx: ApiContext, collection: string, views: readonly View[]) {
  const q = queryValues(event);
  const known = new Set(views.length > 0 ? Object.keys(views[0]!) : []);
  let items = [...views];
  for (const [key, wanted] of Object.entries(q)) {
    if (CONTROL.has(key) || wanted.length === 0) continue;
    if (key === 'fixed_ips' && collection === 'ports') {
      items = items.filter((v) => wanted.every((w) => fixedIpMatches(v, w)));
      continue;
    }
    if (views.length > 0 && !known.has(key)) throw invalidInput(`[${excerpt(key)}] is invalid attribute for filtering`);
    items = items.filter((v) => wanted.some((w) => matches(v[key], w)));
  }
  const sortKeys = q.sort_key ?? [];
  const sortDirs = q.sort_dir ?? [];
  for (const d of sortDirs) if (d !== 'asc' && d !== 'desc') throw invalidInput(`Invalid input for sort_dir. Reason: '${excerpt(d)}' is not a valid value.`);
  for (const k of sortKeys) if (views.length > 0 && !known.has(k)) throw invalidInput(`Invalid input for sort_key. Reason: '${excerpt(k)}' is an invalid attribute for sort_key.`);
  const order = [...sortKeys.map((k, i) => ({ key: k, desc: sortDirs[i] === 'desc' })), { key: 'id', desc: false }];
  items.sort((a, b) => {
    for (const o of order) {
      const c = compare(a[o.key], b[o.key]);
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  });
  const limit = pageLimit(q.limit);
  const marker = q.marker?.[0];
  let start = 0;
  if (marker !== undefined) {
    const at = items.findIndex((v) => v.id === marker);
    if (at < 0) throw invalidInput(`Marker ${excerpt(marker)} could not be found.`);
    start = at + 1;
  }
  const page = limit === undefined ? items.slice(start) : items.slice(start, start + limit);
  const fields = q.fields ?? [];
  const shown = fields.length === 0 ? page : page.map((v) => Object.fromEntries(fields.filter((f) => f in v).map((f) => [f, v[f]])));
  const links: { href: string; rel: string }[] = [];
  const href = (extra: Record<string, string>) => {
    const params = new URLSearchParams();
    for (const [k, vs] of Object.entries(q)) if (!['marker', 'page_reverse'].includes(k)) for (const v of vs) params.append(k, v);
    for (const [k, v] of Object.entries(extra)) params.set(k, v);
    return `${ctx.baseUrl}/network/v2.0/${collection}?${params}`;
  };
  if (limit !== undefined && page.length === limit && start + limit < items.length) links.push({ href: href({ marker: String(page.at(-1)!.id) }), rel: 'next' });
  if (marker !== undefined && page.length > 0) links.push({ href: href({ marker: String(page[0]!.id), page_reverse: 'True' }), rel: 'previous' });
  return { [collection]: shown, ...(links.length > 0 ? { [`${collection}_links`]: links } : {}) };
}

/** `fields` on a show: only those attributes. */
export function shownFields(event: ApiEvent, view: View): View {
  const fields = queryValues(event).fields ?? [];
  return fields.length === 0 ? view : Object.fromEntries(fields.filter((f) => f in view).map((f) => [f, view[f]]));
}
