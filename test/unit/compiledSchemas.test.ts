import { readFileSync } from 'node:fs';
import { compiledValidatorsSource, VALIDATORS_FILE } from '../../scripts/compile-schemas.js';
import * as validators from '../../functions/api/validators.generated.js';
import { compiledSchemas } from '../../functions/api/schemas.js';

// The request schemas are compiled ahead of time (ajv standalone): the committed validators must
// be exactly what the schemas generate now, and there must be one for every schema: bodies, path
// parameters and query parameters.

it('is current: validators.generated.ts equals a fresh generation (run `npm run schemas` after changing a schema)', () => {
  expect(readFileSync(VALIDATORS_FILE, 'utf8')).toBe(compiledValidatorsSource());
});

it('has a working validator for every schema', () => {
  expect(Object.keys(validators).sort()).toEqual(Object.keys(compiledSchemas).sort());
  expect(Object.keys(validators)).toEqual(expect.arrayContaining(['attachVolume', 'path_server_id', 'query_limit']));
  const attach = (validators as Record<string, (d: unknown) => boolean>).attachVolume!;
  expect(attach({ volumeAttachment: { volumeId: '5f1c2f0e-8c55-4a43-9c34-1f2d0a3b7e61' } })).toBe(true);
  expect(attach({ volumeAttachment: { volumeId: 'x'.repeat(300) } })).toBe(false);
  const serverId = (validators as Record<string, (d: unknown) => boolean>).path_server_id!;
  expect(serverId('5F1C2F0E8C554A439C341F2D0A3B7E61')).toBe(true);
  expect(serverId('../flavors')).toBe(false);
});
