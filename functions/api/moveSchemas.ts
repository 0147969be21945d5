import { isAtLeast, type ApiVersion } from './apiVersion.js';

// The request schemas of the actions that move a server and of a live migration's
// force_complete (nova/api/openstack/compute/schemas/migrate_server.py, evacuate.py,
// server_migrations.py), each the value of its action's key, by microversion. parameter_types'
// boolean and fqdn are serverSchemas.ts's (passed in, so that the two files do not import each other).

interface Shared {
  readonly boolean: { readonly type: readonly string[]; readonly enum: readonly unknown[] };
  readonly fqdn: object;
}

/** migrate: no schema before 2.56 (Nova validates nothing); from it an object or null, with a `host`. */
export function migrateSchema(v: ApiVersion, s: Shared) {
  if (!isAtLeast(v, '2.56')) return {};
  return { type: ['object', 'null'], additionalProperties: false, properties: { host: { ...s.fqdn, type: ['string', 'null'] } } };
}

/**
 * os-migrateLive: `block_migration`, `disk_over_commit` and `host` required before 2.25; from it
 * no disk_over_commit and block_migration may be "auto"; `force` from 2.30 to 2.67.
 */
export function migrateLiveSchema(v: ApiVersion, s: Shared) {
  const host = { ...s.fqdn, type: ['string', 'null'] };
  if (!isAtLeast(v, '2.25')) {
    return {
      type: 'object', required: ['block_migration', 'disk_over_commit', 'host'], additionalProperties: false,
      properties: { block_migration: s.boolean, disk_over_commit: s.boolean, host },
    };
  }
  const force = isAtLeast(v, '2.30') && !isAtLeast(v, '2.68') ? { force: s.boolean } : {};
  return {
    type: 'object', required: ['block_migration', 'host'], additionalProperties: false,
    properties: { block_migration: { ...s.boolean, enum: [...s.boolean.enum, 'auto'] }, host, ...force },
  };
}

/** evacuate: `onSharedStorage` required before 2.14 and gone from it; `force` from 2.29 to 2.67. */
export function evacuateSchema(v: ApiVersion, s: Shared) {
  const force = isAtLeast(v, '2.29') && !isAtLeast(v, '2.68') ? { force: s.boolean } : {};
  if (!isAtLeast(v, '2.14')) {
    return {
      type: 'object', required: ['onSharedStorage'], additionalProperties: false,
      properties: { host: s.fqdn, onSharedStorage: s.boolean, adminPass: { type: 'string' } },
    };
  }
  return { type: 'object', additionalProperties: false, properties: { host: s.fqdn, adminPass: { type: 'string' }, ...force } };
}

/** force_complete's value: null. */
export const forceCompleteSchema = { type: 'null' } as const;
