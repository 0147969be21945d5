import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import { base64 } from '../../functions/api/formats.js';

// Tempest's Nova response schemas (test/fixtures/tempest), compiled with ajv, with the formats
// Tempest checks (jsonschema's draft-4 checker plus oslo's ISO 8601 for 'iso8601-date-time').

interface TempestSchema {
  readonly status_code: number[];
  readonly response_body?: object;
}

const fixtures = new URL('../fixtures/tempest/', import.meta.url);

const ajv = new Ajv({ strict: false, allErrors: true });
// oslo_utils.timeutils.parse_isotime: ISO 8601 date and time, optional fraction and zone.
ajv.addFormat('iso8601-date-time', /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/);
ajv.addFormat('uri', (s: string) => { try { return !!new URL(s); } catch { return false; } });
ajv.addFormat('ipv4', (s: string) => isIP(s) === 4);
ajv.addFormat('ipv6', (s: string) => isIP(s) === 6);
ajv.addFormat('uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i);
// user_data (2.3's extended attributes): jsonschema does not check it; the request's own check is stricter.
ajv.addFormat('base64', base64);

const compiled = new Map<string, { schema: TempestSchema; validate?: ValidateFunction }>();

const load = (module: string) =>
  (JSON.parse(readFileSync(new URL(`${module}.json`, fixtures), 'utf8')) as { schemas: Record<string, TempestSchema> }).schemas;

/**
 * The schema Tempest's clients check `name` with at microversion 2.`minor`: the one in the latest
 * module at or before that version which defines it (Tempest copies unchanged schemas forward).
 */
function resolve(kind: string, minor: number, name: string) {
  for (let m = minor; m >= 1; m--) {
    const module = `v2_${m}.${kind}`;
    if (!existsSync(new URL(`${module}.json`, fixtures))) continue;
    const schema = load(module)[name];
    if (schema) return schema;
  }
  return undefined;
}

/**
 * `module` is e.g. `v2_9.servers` (or any version, `v2_30.servers`); `name` the schema's name,
 * e.g. `get_server`.
 */
export function tempestSchema(module: string, name: string) {
  const key = `${module}.${name}`;
  let entry = compiled.get(key);
  if (!entry) {
    const [, minor, kind] = /^v2_(\d+)\.(.+)$/.exec(module)!;
    const schema = resolve(kind!, Number(minor), name);
    if (!schema) throw new Error(`no Tempest schema ${key}`);
    entry = { schema, validate: schema.response_body ? ajv.compile(schema.response_body) : undefined };
    compiled.set(key, entry);
  }
  return entry;
}

/** The problems Tempest would report for this response; [] when it conforms. */
export function tempestProblems(module: string, name: string, res: { status: number; body: unknown }): string[] {
  const { schema, validate } = tempestSchema(module, name);
  const problems: string[] = [];
  if (!schema.status_code.includes(res.status)) problems.push(`status ${res.status} not in ${schema.status_code.join(',')}`);
  if (validate && !validate(res.body)) {
    problems.push(...(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`));
  }
  return problems;
}
