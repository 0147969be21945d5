import type { ErrorObject } from 'ajv';
import { BadRequest, NotFound } from '../core/shared/errors.js';
import { canonicalUuid } from '../core/shared/ids.js';
import { excerpt } from './excerpt.js';
import * as validators from './validators.generated.js';

// Path and query parameters: what each is, the single source for their validation here and for
// the OpenAPI document. Request bodies have their own registry (serverSchemas.ts requestSchemas).

const UUID = '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$';
const uuid = { type: 'string', pattern: UUID } as const;

/**
 * Path parameters: what each id in a path is, for validation and the OpenAPI document alike. A
 * value that is not one is Nova's 404 for that kind of thing (Nova looks it up and finds
 * nothing); a UUID is put in its canonical spelling before anything is looked up by it.
 */
export const pathParameters = {
  // Placement's: a server group's uuid; a hypervisor's id (an integer before 2.53, a uuid from it,
  // or a hostname pattern in the old servers/search paths); a service's uuid (2.53); a host's name.
  group_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Instance group ${v} could not be found.` },
  hypervisor_id: {
    schema: { type: 'string', minLength: 1, maxLength: 255 }, canonical: (v: string) => v,
    notFound: (v: string) => `Hypervisor with ID ${v} could not be found.`,
  },
  aggregate_id: {
    schema: { type: 'string', pattern: '^[0-9]{1,10}$' }, canonical: (v: string) => String(Number(v)),
    notFound: (v: string) => `Aggregate ${v} could not be found.`,
  },
  // A server's migration: Nova's integer id (a migration of another server, or none, is its 404).
  migration_id: {
    schema: { type: 'string', pattern: '^[0-9]{1,10}$' }, canonical: (v: string) => String(Number(v)),
    notFound: (v: string) => `Migration ${v} could not be found.`,
  },
  service_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Service ${v} could not be found.` },
  host_name: {
    schema: { type: 'string', minLength: 1, maxLength: 255 }, canonical: (v: string) => v,
    notFound: (v: string) => `Compute host ${v} could not be found.`,
  },
  // The audit log's "before" time, as Nova reads it (its own 400 for a bad one: functions/api/compute/usage.ts).
  before_timestamp: {
    schema: { type: 'string', minLength: 1, maxLength: 64 }, canonical: (v: string) => v, notFound: () => 'The resource could not be found.',
  },
  server_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Instance ${v} could not be found.` },
  volume_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Volume ${v} could not be found.` },
  port_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Port id ${v} could not be found.` },
  // Glance's image ids are hyphenated UUIDs; any other id names no image, which the route says in
  // its service's words (Glance's and Nova's differ), so only an absurd length is refused here.
  image_id: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v.toLowerCase(), notFound: (v: string) => `No image found with ID ${v}`,
  },
  // Nova's flavor ids (flavor-manage's schema): letters, digits, '.', ' ', '_', '-', no outer spaces.
  flavor_id: {
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' },
    canonical: (v: string) => v, notFound: (v: string) => `Flavor ${v} could not be found.`,
  },
  request_id: {
    schema: { type: 'string', pattern: '^req-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' },
    canonical: (v: string) => v.toLowerCase(), notFound: (v: string) => `Action for request_id ${v} not found`,
  },
  // Server addresses' network label, a server tag, a key pair name (taskgate's own routes).
  network_label: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v, notFound: () => 'There is no such network',
  },
  tag: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v, notFound: (v: string) => `Tag ${v} could not be found.`,
  },
  // An image tag (Glance): its length is checked by the image schema, with Glance's 400.
  tag_value: {
    schema: { type: 'string', minLength: 1, maxLength: 4096 },
    canonical: (v: string) => v, notFound: () => 'The resource could not be found.',
  },
  keypair_name: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v, notFound: (v: string) => `Keypair ${v} not found.`,
  },
  // Cinder's: the project in its endpoint (a Keystone project id, or noauth's name), a volume type
  // (id or name), the project whose quotas are read.
  project_id: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v, notFound: () => 'The resource could not be found.',
  },
  type_id: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v, notFound: (v: string) => `Volume type ${v} could not be found.`,
  },
  quota_project_id: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v, notFound: (v: string) => `Quota for project ${v} could not be found.`,
  },
  // Neutron's ids (UUIDs): any other names nothing, Neutron's 404 in its words.
  network_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Network ${v} could not be found.` },
  subnet_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Subnet ${v} could not be found.` },
  security_group_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Security group ${v} does not exist` },
  security_group_rule_id: { schema: uuid, canonical: canonicalUuid, notFound: (v: string) => `Security group rule ${v} does not exist` },
  // A Neutron extension's alias (GET /v2.0/extensions/{alias}).
  alias: {
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    canonical: (v: string) => v, notFound: (v: string) => `Extension with alias ${v} does not exist`,
  },
  // Nova's extra spec keys (and server metadata keys: the same pattern).
  key: {
    schema: { type: 'string', pattern: '^[a-zA-Z0-9-_:. ]{1,255}$' },
    canonical: (v: string) => v, notFound: (v: string) => `Extra spec ${v} could not be found.`,
  },
} as const;

export type PathParameterName = keyof typeof pathParameters;

/**
 * Query parameters taskgate reads, as strings (API Gateway hands them over so). Others are
 * ignored, as Nova ignores filters it does not know. `limit` is Nova's `validate_integer(min 0)`,
 * `name` a regular expression (functions/api/nameFilter.ts bounds it).
 */
export const queryParameters = {
  limit: { type: 'string', pattern: '^\\s*[+-]?[0-9]{1,15}\\s*$' },
  marker: { type: 'string', maxLength: 4096 },
  name: { type: 'string', maxLength: 255 },
  status: { type: 'string', maxLength: 64 },
} as const;

export type QueryParameterName = keyof typeof queryParameters;

/** Where Nova words a query parameter's refusal its own way. */
const QUERY_MESSAGES: Partial<Record<QueryParameterName, () => string>> = {
  limit: () => 'limit param must be an integer',
};

/**
 * The parameters' schemas a validator is compiled for, by the name it is exported under
 * (`path_server_id`, `query_limit`).
 */
export const compiledSchemas: Record<string, object> = {
  ...Object.fromEntries(Object.entries(pathParameters).map(([name, p]) => [`path_${name}`, p.schema])),
  ...Object.fromEntries(Object.entries(queryParameters).map(([name, schema]) => [`query_${name}`, schema])),
};

/** A compiled validator: ajv's standalone code, generated ahead of time by `npm run schemas`. */
type CompiledValidator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

function compiled(name: string): CompiledValidator {
  const check = (validators as unknown as Record<string, CompiledValidator | undefined>)[name];
  if (!check) throw new Error(`no compiled validator ${name}: run \`npm run schemas\``);
  return check;
}

/** A path parameter as the route reads it: decoded, valid for its kind, canonical; else Nova's 404. */
export function validPathParameter(name: string, raw: string): string {
  const kind = (pathParameters as Record<string, (typeof pathParameters)[PathParameterName]>)[name];
  let value: string;
  try { value = decodeURIComponent(raw); } catch { value = raw; }
  if (!kind) throw new Error(`route path parameter ${name} has no schema in pathParameters`);
  if (!compiled(`path_${name}`)(value)) throw new NotFound(kind.notFound(excerpt(value)));
  return kind.canonical(value);
}

/** The query parameters taskgate reads, validated; a mismatch is Nova's 400 for query parameters. */
export function validateQuery(query: Readonly<Record<string, string | undefined>> | null | undefined): void {
  if (!query) return;
  for (const name of Object.keys(queryParameters) as QueryParameterName[]) {
    if (!Object.hasOwn(query, name)) continue;
    const value = query[name];
    const check = compiled(`query_${name}`);
    if (!check(value)) {
      throw new BadRequest(QUERY_MESSAGES[name]?.() ?? `Invalid input for query parameters ${name}. Value: ${excerpt(value)}. `
        + `It ${check.errors![0]?.message ?? 'is invalid'}`);
    }
  }
}
