import { readFileSync } from 'node:fs';
import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv';
import {
  BODY_VALIDATORS_FILE, compiledValidatorsSources, servedVersions, versionedSchemaPlan, VALIDATORS_FILE,
} from '../../scripts/compile-schemas.js';
import * as validators from '../../functions/api/validators.generated.js';
import * as bodyValidators from '../../functions/api/bodyValidators.generated.js';
import * as formats from '../../functions/api/formats.js';
import { compiledSchemas } from '../../functions/api/parameters.js';
import { describe as novaMessage } from '../../functions/api/validationMessage.js';
import { checkBody, loadBodyValidators, requestSchemas, type RequestSchemaName } from '../../functions/api/serverSchemas.js';
import { MAX_VERSION, versionString, type ApiVersion } from '../../functions/api/apiVersion.js';
import { BadRequest } from '../../functions/core/shared/errors.js';

// The request schemas are compiled ahead of time (ajv standalone): the committed validators must
// be exactly what the schemas generate now, there must be one for every schema (bodies, path and
// query parameters, and every microversioned request schema at every version served), and a
// compiled validator must answer as ajv compiling the same schema at runtime would, Nova's
// message included.

const exported = validators as unknown as Record<string, unknown>;

beforeAll(loadBodyValidators);

it('is current: validators.generated.ts and bodyValidators.generated.ts equal a fresh generation (run `npm run schemas` after changing a schema)', () => {
  const { parameters, bodies } = compiledValidatorsSources();
  expect(readFileSync(VALIDATORS_FILE, 'utf8')).toBe(parameters);
  expect(readFileSync(BODY_VALIDATORS_FILE, 'utf8')).toBe(bodies);
});

it('keeps the bodies\' validators out of the module every request loads', () => {
  expect(Object.keys(validators)).not.toContain('versionedValidators');
  expect(Object.keys(validators).filter((name) => !Object.hasOwn(compiledSchemas, name))).toEqual([]);
});

it('has a working validator for every path and query parameter', () => {
  for (const name of Object.keys(compiledSchemas)) expect(typeof exported[name]).toBe('function');
  expect(Object.keys(validators)).toEqual(expect.arrayContaining(['path_server_id', 'query_limit']));
  const serverId = exported.path_server_id as (d: unknown) => boolean;
  expect(serverId('5F1C2F0E8C554A439C341F2D0A3B7E61')).toBe(true);
  expect(serverId('../flavors')).toBe(false);
});

it('has validators for every versioned request schema, changing where the schema changes', () => {
  expect(servedVersions().map(versionString)).toEqual(Array.from({ length: 79 }, (_v, i) => `2.${i + 1}`));
  expect(Object.keys(bodyValidators.versionedValidators).sort()).toEqual(Object.keys(requestSchemas).sort());
  const { steps } = versionedSchemaPlan();
  // Where Nova's create schema changes: 2.19 description, 2.32/2.33 device tags, 2.37 networks, ...
  expect(steps.createServer!.map(([minor]) => minor)).toEqual([1, 19, 32, 33, 37, 42, 52, 57, 63, 67, 74]);
  expect(steps.lock).toEqual([[1, 'lock_2_1'], [73, 'lock_2_73']]);
  for (const [name, table] of Object.entries(bodyValidators.versionedValidators) as [string, [number, unknown][]][]) {
    expect(table.map(([minor]) => minor)).toEqual(steps[name]!.map(([minor]) => minor));
    for (const [, fn] of table) expect(typeof fn).toBe('function');
  }
});

// Differential check: the same schema compiled by ajv at runtime, as taskgate did before, with the same formats.
const reference = new Ajv({ allErrors: false, strict: false });
for (const [name, format] of Object.entries(formats)) reference.addFormat(name, format);
const referenceCache = new Map<string, ValidateFunction>();
function referenceAnswer(name: RequestSchemaName, v: ApiVersion, body: unknown): string {
  const schema = requestSchemas[name](v);
  const text = JSON.stringify(schema);
  let fn = referenceCache.get(text);
  if (!fn) referenceCache.set(text, (fn = reference.compile(structuredClone(schema) as AnySchemaObject)));
  return fn(body) ? 'valid' : novaMessage(fn.errors![0]!, body);
}
function compiledAnswer(name: RequestSchemaName, v: ApiVersion, body: unknown): string {
  try {
    checkBody(name, v, body);
    return 'valid';
  } catch (err) {
    if (!(err instanceof BadRequest)) throw err;
    return err.message;
  }
}

const UUID = '5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61';
const BAD = [null, 1.5, -1, 0, true, 'x', '', ' padded ', 'x'.repeat(300), [], [{}], [{ name: 'n', x: 1 }], {}, { a: 1 },
  '1.2.3', '::1', '10.0.0.1', 'bm90IGJhc2U2NA', 'aGk=', UUID, 'True', 'auto', 'none', '\u0000', 'a,b', 'ssh', 50, '7'];
const VALID: Record<RequestSchemaName, unknown> = {
  createServer: { server: { name: 'vm', imageRef: UUID, flavorRef: '1', networks: 'auto' } },
  updateServer: { server: { name: 'vm' } },
  rebuild: { imageRef: UUID },
  resize: { flavorRef: '2' },
  reboot: { type: 'HARD' },
  resetState: { state: 'error' },
  unvalidated: null,
  lock: { locked_reason: 'why' },
  securityGroupAction: { name: 'default' },
  attachVolume: { volumeAttachment: { volumeId: UUID } },
  attachInterface: { interfaceAttachment: { port_id: UUID } },
  createFlavor: { flavor: { name: 'f', ram: 1, vcpus: 1, disk: 0 } },
  updateFlavor: { flavor: { description: 'd' } },
  createKeypair: { keypair: { name: 'k' } },
  metadata: { metadata: { a: 'b' } },
  metaItem: { meta: { a: 'b' } },
  tags: { tags: ['a'] },
  tag: 'a',
  createExtraSpecs: { extra_specs: { 'hw:cpu_policy': 'dedicated', n: 1 } },
  updateExtraSpec: { 'hw:cpu_policy': 'shared' },
  addTenantAccess: { addTenantAccess: { tenant: 'p1' } },
  removeTenantAccess: { removeTenantAccess: { tenant: 'p1' } },
  updateQuotaSet: { quota_set: { instances: 5, cores: '10', force: 'True' } },
  updateQuotaClassSet: { quota_class_set: { instances: 5 } },
  rescue: { adminPass: 'p', rescue_image_ref: UUID },
  createImage: { name: 'snap', metadata: { a: 'b' } },
  createBackup: { name: 'b', backup_type: 'daily', rotation: 1 },
  changePassword: { adminPass: 'p' },
  consoleOutput: { length: 5 },
  triggerCrashDump: null,
  externalEvents: { events: [{ name: 'network-changed', server_uuid: UUID }] },
  createServerGroup: { server_group: { name: 'g', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } },
  updateService: { status: 'disabled', disabled_reason: 'maintenance' },
  serviceAction: { host: 'taskgate-compute', binary: 'nova-compute' },
  updateHost: { status: 'disable' },
  createAggregate: { aggregate: { name: 'rack1', availability_zone: 'edge' } },
  updateAggregate: { aggregate: { name: 'rack2' } },
  aggregateAction: { add_host: { host: 'taskgate-compute' } },
  migrate: null,
  migrateLive: { block_migration: 'auto', host: null },
  evacuate: { onSharedStorage: false },
  forceComplete: null,
};

/** Bodies near the valid one: each property the latest schema names (two levels deep), set to each bad value or removed. */
function variants(name: RequestSchemaName): unknown[] {
  const out: unknown[] = [VALID[name], undefined, null, [], 'x', {}];
  const latest = requestSchemas[name](MAX_VERSION) as { properties?: Record<string, { properties?: Record<string, unknown>; items?: unknown }> };
  const base = VALID[name] as Record<string, Record<string, unknown>>;
  for (const [key, sub] of Object.entries(latest.properties ?? {})) {
    for (const bad of BAD) out.push({ ...base, [key]: bad });
    out.push({ ...base, [`${key}_unknown`]: 1 });
    for (const inner of Object.keys(sub.properties ?? {})) {
      for (const bad of BAD) out.push({ ...base, [key]: { ...base[key], [inner]: bad } });
      out.push({ ...base, [key]: { ...base[key], [inner]: undefined } });
    }
  }
  // Deeper: block device mappings and networks, with and without tags.
  if (name === 'createServer') {
    const server = base.server!;
    for (const item of [{ uuid: UUID }, { uuid: UUID, tag: 't' }, { port: UUID, fixed_ip: '::1' }, { fixed_ip: 'x' }, { uuid: 'x' }]) {
      out.push({ server: { ...server, networks: [item] } });
    }
    for (const bdm of [{ boot_index: 0, uuid: UUID, source_type: 'image' }, { tag: 't' }, { volume_type: null }, { volume_size: 0 }, { x: 1 }]) {
      out.push({ server: { ...server, block_device_mapping_v2: [bdm] } });
    }
    out.push({ server: { ...server, user_data: 'aGk=' } }, { server: { ...server, personality: [{ path: '/p', contents: '!' }] } });
  }
  return out;
}

it('answers every request at every served version as ajv compiling the schema at runtime does, Nova\'s message included', () => {
  const mismatches: unknown[] = [];
  let compared = 0;
  for (const name of Object.keys(requestSchemas) as RequestSchemaName[]) {
    const bodies = variants(name);
    for (const v of servedVersions()) {
      for (const body of bodies) {
        const compiled = compiledAnswer(name, v, body);
        const expected = referenceAnswer(name, v, body);
        if (compiled !== expected) mismatches.push({ name, version: versionString(v), body, compiled, expected });
        compared++;
      }
    }
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
  expect(compared).toBeGreaterThan(10000);
  // The comparison can fail: a body one validator takes and the other refuses is told apart.
  expect(compiledAnswer('createServer', MAX_VERSION, VALID.createServer)).toBe('valid');
  expect(compiledAnswer('createServer', MAX_VERSION, { server: { name: 'vm' } })).toMatch(/^Invalid input for field\/attribute server\. /);
});

it('finds no validator for a version taskgate does not serve', () => {
  expect(() => checkBody('createServer', { major: 2, minor: MAX_VERSION.minor + 1 }, {})).toThrow(/no compiled validator/);
  expect(() => checkBody('createServer', { major: 2, minor: 0 }, {})).toThrow(/no compiled validator/);
});

it('validates the fixed action bodies from the one registry: a resize names a flavor id of at most 255 characters', () => {
  expect(compiledAnswer('resize', MAX_VERSION, { flavorRef: '2' })).toBe('valid');
  expect(compiledAnswer('resize', MAX_VERSION, { flavorRef: 'x'.repeat(300) })).toMatch(/^Invalid input for field\/attribute flavorRef\. /);
  expect(compiledAnswer('reboot', MAX_VERSION, { type: 'WARM' })).toMatch(/^Invalid input for field\/attribute type\. /);
});
