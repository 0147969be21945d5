import { invalidInput } from '../../core/networks/model.js';
import { canonicalUuid, isUuid } from '../../core/shared/ids.js';
import { excerpt } from '../excerpt.js';

// Neutron's request bodies (neutron's api/v2/base.py and neutron-lib's validators): the
// resource's one key, only its known attributes, each converted and validated with Neutron's
// words. Any refusal is a 400 HTTPBadRequest before anything is read or written.

export type Attrs = Record<string, unknown>;

const show = (v: unknown) => excerpt(typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));

/** `{"<resource>": {...}}`, with only `allowed` attributes (a read-only one named as such). */
export function resourceBody(body: unknown, resource: string, allowed: readonly string[], method: 'POST' | 'PUT'): Attrs {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !(resource in body)) {
    throw invalidInput(`Resource body required`.concat(body === undefined || body === null ? '' : `: no '${resource}' in it`));
  }
  const attrs = (body as Record<string, unknown>)[resource];
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) throw invalidInput(`Invalid format: ${show(attrs)}`);
  const unknown = Object.keys(attrs).filter((k) => !allowed.includes(k));
  const readOnly = unknown.filter((k) => READ_ONLY.has(k));
  if (readOnly.length > 0) throw invalidInput(`Attribute '${readOnly[0]}' not allowed in ${method}`);
  if (unknown.length > 0) throw invalidInput(`Unrecognized attribute(s) '${unknown.map(excerpt).join(', ')}'`);
  return attrs as Attrs;
}

const READ_ONLY = new Set(['id', 'status', 'created_at', 'updated_at', 'revision_number', 'subnets', 'security_group_rules', 'fixed_ip']);

export function required(attrs: Attrs, name: string): void {
  if (!(name in attrs)) throw invalidInput(`Failed to parse request. Required attribute '${name}' not specified`);
}

export function str(attrs: Attrs, name: string, max = 255): string | undefined {
  const v = attrs[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidInput(`Invalid input for ${name}. Reason: '${show(v)}' is not a valid string.`);
  if (v.length > max) throw invalidInput(`Invalid input for ${name}. Reason: '${show(v)}' exceeds maximum length of ${max}.`);
  return v;
}

/** Neutron's convert_to_boolean: true/false, their strings in any case, 1/0. */
export function bool(attrs: Attrs, name: string): boolean | undefined {
  const v = attrs[name];
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === '1' || (typeof v === 'string' && v.toLowerCase() === 'true')) return true;
  if (v === 0 || v === '0' || (typeof v === 'string' && v.toLowerCase() === 'false')) return false;
  throw invalidInput(`Invalid input for ${name}. Reason: '${show(v)}' cannot be converted to boolean.`);
}

export function uuid(attrs: Attrs, name: string): string | undefined {
  const v = attrs[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !isUuid(v)) throw invalidInput(`Invalid input for ${name}. Reason: '${show(v)}' is not a valid UUID.`);
  return canonicalUuid(v);
}

export function int(attrs: Attrs, name: string, min: number, max: number): number | undefined {
  const v = attrs[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw invalidInput(`Invalid input for ${name}. Reason: '${show(v)}' is not an integer.`);
  if (n < min || n > max) throw invalidInput(`Invalid input for ${name}. Reason: '${n}' is not in range ${min} through ${max}.`);
  return n;
}

export function list<T>(attrs: Attrs, name: string, item: (v: unknown) => T): T[] | undefined {
  const v = attrs[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw invalidInput(`Invalid input for ${name}. Reason: '${show(v)}' is not a list.`);
  return v.map(item);
}

export function uuidList(attrs: Attrs, name: string): string[] | undefined {
  return list(attrs, name, (v) => {
    if (typeof v !== 'string' || !isUuid(v)) throw invalidInput(`Invalid input for ${name}. Reason: '${show(v)}' is not a valid UUID.`);
    return canonicalUuid(v);
  });
}

/** The project a resource is made for: the caller's, or (administrators only) the one named. */
export function owningProject(attrs: Attrs, caller: { projectId: string; isAdmin: boolean }): string {
  const named = str(attrs, 'project_id') ?? str(attrs, 'tenant_id');
  if (attrs.project_id !== undefined && attrs.tenant_id !== undefined && attrs.project_id !== attrs.tenant_id) {
    throw invalidInput('Invalid input for operation: project_id and tenant_id do not match.');
  }
  if (named === undefined || named === caller.projectId) return caller.projectId;
  if (!caller.isAdmin) {
    throw invalidInput("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges");
  }
  return named;
}

export const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;
