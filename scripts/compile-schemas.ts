import { writeFileSync } from 'node:fs';
import { _, Ajv, type AnySchemaObject } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { MAX_VERSION, MIN_VERSION, type ApiVersion } from '../functions/api/apiVersion.js';
import * as formats from '../functions/api/formats.js';
import { compiledSchemas } from '../functions/api/parameters.js';
import { requestSchemas } from '../functions/api/serverSchemas.js';

// `npm run schemas`: compiles every request schema to a plain validation function ahead of time
// (ajv's standalone code), so the API Lambda compiles nothing at runtime: neither its module
// initialisation nor its first validated request pays for ajv's compiler, and the bundle does
// not carry it. A unit test keeps the generated files equal to a fresh generation.
//
// Two kinds, in two files: the path and query parameters of functions/api/parameters.ts, exported under their
// own names (`path_server_id`), in validators.generated.ts; and the request bodies, in
// bodyValidators.generated.ts, all in the one registry of
// functions/api/serverSchemas.ts (`requestSchemas`), built at every version taskgate serves.
// A builder gives the same schema for long runs of versions, and several give the same one (a
// fixed schema is a builder that ignores the version): each distinct schema (by its JSON text)
// is compiled once, and `versionedValidators` says which one serves which versions.

/** Every version taskgate serves, MIN_VERSION..MAX_VERSION (all 2.x). */
export function servedVersions(): ApiVersion[] {
  if (MIN_VERSION.major !== MAX_VERSION.major) throw new Error('served versions span majors: the lookup table is by minor only');
  return Array.from({ length: MAX_VERSION.minor - MIN_VERSION.minor + 1 }, (_v, i) => ({ major: MIN_VERSION.major, minor: MIN_VERSION.minor + i }));
}

/**
 * The distinct versioned schemas, each named after its first use (`createServer_2_19`), and for
 * each request schema the steps [first minor, validator name] at which its validator changes.
 */
export function versionedSchemaPlan() {
  const named = new Map<string, { name: string; schema: object }>();
  const steps: Record<string, [number, string][]> = {};
  for (const [name, build] of Object.entries(requestSchemas)) {
    const own: [number, string][] = (steps[name] = []);
    for (const v of servedVersions()) {
      const schema = build(v);
      const text = JSON.stringify(schema);
      let found = named.get(text);
      if (!found) named.set(text, (found = { name: `${name}_${v.major}_${v.minor}`, schema }));
      if (own.at(-1)?.[1] !== found.name) own.push([v.minor, found.name]);
    }
  }
  return { schemas: [...named.values()], steps };
}

/** Where a JSON Schema holds schemas: under these keys one, in these maps or arrays several. */
const ONE = ['additionalProperties', 'items', 'not', 'contains', 'propertyNames', 'if', 'then', 'else', 'additionalItems'];
const MAP = ['properties', 'patternProperties', 'definitions', '$defs', 'dependencies'];
const LIST = ['oneOf', 'anyOf', 'allOf', 'items'];

/** `schema` with each of its direct sub-schemas replaced by `f` of it. */
function mapSubschemas(schema: object, f: (sub: object) => object): object {
  if (Array.isArray(schema) || schema === null) return schema;
  const out: Record<string, unknown> = { ...schema };
  const isSchema = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const [key, value] of Object.entries(out)) {
    if (ONE.includes(key) && isSchema(value)) out[key] = f(value);
    else if (MAP.includes(key) && isSchema(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSchema(v) ? f(v) : v]));
    } else if (LIST.includes(key) && Array.isArray(value)) out[key] = value.map((v) => (isSchema(v) ? f(v) : v));
  }
  return out;
}

/** Sub-schemas this long (JSON text) or longer, used in more than one place, are compiled once and referenced. */
const SHARED_MIN_LENGTH = 20;

/**
 * The versioned schemas with their repeated parts factored out: each sub-schema used in more
 * than one place (the block device mapping, the networks, a name...) becomes a schema of its
 * own, referenced by `$ref` and compiled once (ajv with inlineRefs off calls it), instead of
 * being compiled into every version of every schema that holds it. Validation is the same: a
 * referenced validator reports its first error with the same instance path and message.
 */
export function factorShared(roots: { name: string; schema: object }[]) {
  const uses = new Map<string, number>();
  const count = (schema: object) => {
    const text = JSON.stringify(schema);
    uses.set(text, (uses.get(text) ?? 0) + 1);
    mapSubschemas(schema, (sub) => { count(sub); return sub; });
  };
  for (const root of roots) mapSubschemas(root.schema, (sub) => { count(sub); return sub; });
  const shared = new Map<string, { name: string; schema: object }>();
  const factor = (schema: object): object => {
    const text = JSON.stringify(schema);
    if (text.length < SHARED_MIN_LENGTH || (uses.get(text) ?? 0) < 2) return mapSubschemas(schema, factor);
    let found = shared.get(text);
    if (!found) {
      found = { name: `shared_${shared.size}`, schema: {} };
      shared.set(text, found);
      found.schema = mapSubschemas(schema, factor);
    }
    return { $ref: found.name };
  };
  const factored = roots.map(({ name, schema }) => ({ name, schema: mapSubschemas(schema, factor) }));
  return { roots: factored, shared: [...shared.values()] };
}

/** ajv's standalone ESM for `exported` (validator name: schema name), its runtime `require`s made imports. */
function moduleSource(ajv: Ajv, exported: string[]): string {
  let code = standaloneCode.default(ajv, Object.fromEntries(exported.map((name) => [name, name])));
  // ajv's ESM output still `require`s its small runtime helpers and the formats: turn those into imports.
  const imports: string[] = [];
  const imported = new Map<string, string>();
  code = code.replace(/require\("([^"]+)"\)/g, (_m, path: string) => {
    if (imported.has(path)) return imported.get(path)!;
    const name = `runtime${imported.size}`;
    imported.set(path, name);
    if (path.startsWith('./')) imports.push(`import * as ${name} from '${path}.js';`);
    else {
      // Node's ESM sees a CommonJS module's exports as `default`; a bundler may see them as the namespace.
      imports.push(`import * as ${name}Module from '${path}.js';`,
        `const ${name} = typeof ${name}Module.default === 'function' ? ${name}Module : ${name}Module.default;`);
    }
    return name;
  });
  return `${imports.join('\n')}\n${code}\n`;
}

const HEADER = '// @ts-nocheck\n'
  + '// Generated by `npm run schemas` from functions/api/parameters.ts and functions/api/serverSchemas.ts: do not edit.\n';

/**
 * Two modules: the path and query parameters' validators, which every request runs (the API
 * loads them at init); and the request bodies', most of the size (`createServer` alone at
 * eleven versions), which the API loads on the first request that has a body
 * (serverSchemas.ts loadBodyValidators), so a cold start that reads does not parse them.
 */
export function compiledValidatorsSources(): { parameters: string; bodies: string } {
  // The formats are compiled as references into functions/api/formats.ts, which the generated
  // files import (the `require` becomes an import).
  const ajv = new Ajv({
    allErrors: false, strict: false, inlineRefs: false,
    code: { source: true, esm: true, formats: _`require("./formats")` },
  });
  for (const [name, format] of Object.entries(formats)) ajv.addFormat(name, format);
  // A copy of each: several path parameters share one schema object, and ajv's standalone code
  // would declare that object's function once per name, twice over.
  for (const [name, schema] of Object.entries(compiledSchemas)) ajv.addSchema(structuredClone(schema) as AnySchemaObject, name);
  const plan = versionedSchemaPlan();
  const { roots, shared } = factorShared(plan.schemas);
  for (const { name, schema } of [...shared, ...roots]) ajv.addSchema(structuredClone(schema) as AnySchemaObject, name);
  const table = Object.entries(plan.steps)
    .map(([name, steps]) => `  ${name}: [${steps.map(([minor, fn]) => `[${minor}, ${fn}]`).join(', ')}],`).join('\n');
  return {
    parameters: HEADER + moduleSource(ajv, Object.keys(compiledSchemas)),
    bodies: HEADER + moduleSource(ajv, roots.map((s) => s.name))
      + `/** Each microversioned request schema's validators: [first ${MIN_VERSION.major}.x minor it serves, validator], by minor. */\n`
      + `export const versionedValidators = {\n${table}\n};\n`,
  };
}

export const VALIDATORS_FILE = new URL('../functions/api/validators.generated.ts', import.meta.url);
export const BODY_VALIDATORS_FILE = new URL('../functions/api/bodyValidators.generated.ts', import.meta.url);

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parameters, bodies } = compiledValidatorsSources();
  writeFileSync(VALIDATORS_FILE, parameters);
  writeFileSync(BODY_VALIDATORS_FILE, bodies);
  console.log(`wrote ${VALIDATORS_FILE.pathname} and ${BODY_VALIDATORS_FILE.pathname}`);
}
