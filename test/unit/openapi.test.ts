import { readFileSync } from 'node:fs';
import { MAX_VERSION, MIN_VERSION } from '../../functions/api/apiVersion.js';
import { attachVolumeSchema, createServerSchema, rebuildSchema, resizeSchema } from '../../functions/api/serverSchemas.js';
import { Ajv } from 'ajv';
import * as formats from '../../functions/api/formats.js';
import { apiRoutes } from '../../functions/api/routes.js';
import { openApiDocument, openApiJson } from '../../functions/api/openapi.js';

// The OpenAPI document is generated from the route table and the request schemas: the committed
// openapi.json must be exactly what they generate now, and must cover every route the router serves.

const routes = apiRoutes(undefined as never);
const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
const doc = JSON.parse(committed);

it('is current: openapi.json equals a fresh generation (run `npm run openapi` after changing the API)', () => {
  expect(committed).toBe(openApiJson(routes));
});

it('documents every route the router serves, and nothing else (a trailing-slash twin as a note on its route)', () => {
  const served = routes.map((r) => `${r.method} ${r.path}`);
  const twin = (route: string) => route.length > 6 && route.endsWith('/') && served.includes(route.slice(0, -1));
  const documented = Object.entries(doc.paths as Record<string, Record<string, { description?: string }>>)
    .flatMap(([path, ops]) => Object.entries(ops).flatMap(([m, op]) => [
      `${m.toUpperCase()} ${path}`, ...(op.description?.includes(`\`${path}/\``) ? [`${m.toUpperCase()} ${path}/`] : []),
    ])).sort();
  expect(documented).toEqual([...served].sort());
  expect(served.filter(twin)).toEqual(expect.arrayContaining(['GET /v2.1/', 'GET /volume/v3/']));
  expect(Object.keys(doc.paths).filter((path) => path.length > 1 && path.endsWith('/'))).toEqual([]);
  expect(served).toEqual(expect.arrayContaining([
    'GET /', 'GET /v2.1', 'POST /v2.1/servers', 'POST /v2.1/servers/{server_id}/action',
    'DELETE /v2.1/servers/{server_id}/os-volume_attachments/{volume_id}', 'GET /v2.1/flavors/{flavor_id}',
  ]));
});

it('carries the very schemas that validate request bodies', () => {
  const body = (path: string) => doc.paths[path].post.requestBody.content['application/json'].schema;
  // Server bodies change by microversion: the document shows 2.1's create and the latest rebuild.
  expect(body('/v2.1/servers')).toEqual(createServerSchema(MIN_VERSION));
  expect(body('/v2.1/servers/{server_id}/os-volume_attachments')).toEqual(attachVolumeSchema(MAX_VERSION));
  const actions = body('/v2.1/servers/{server_id}/action').oneOf;
  expect(actions).toContainEqual({ type: 'object', required: ['rebuild'], additionalProperties: false, properties: { rebuild: rebuildSchema(MAX_VERSION) } });
  expect(actions).toContainEqual({ type: 'object', required: ['resize'], additionalProperties: false, properties: { resize: resizeSchema } });

  // The action body schema accepts what the API accepts, and refuses a second action or a bad one.
  // With Nova's formats (uuid, ipv4, ...), as the API's compiled validators have them.
  const ajv = new Ajv({ strict: false });
  for (const [name, format] of Object.entries(formats)) ajv.addFormat(name, format);
  const check = ajv.compile(body('/v2.1/servers/{server_id}/action'));
  expect(check({ reboot: { type: 'HARD' } })).toBe(true);
  expect(check({ confirmResize: null })).toBe(true);
  expect(check({ reboot: { type: 'GENTLE' } })).toBe(false);
  expect(check({ pause: null, unpause: null })).toBe(false);
});

it('changes when a request schema changes (the check can fail)', () => {
  const changed = routes.map((r) => (r.path === '/v2.1/servers' && r.method === 'POST'
    ? { ...r, body: { ...createServerSchema(MIN_VERSION), required: ['server', 'extra'] } } : r));
  expect(JSON.stringify(openApiDocument(changed))).not.toBe(JSON.stringify(doc));
});
