import { isAtLeast, type ApiVersion } from './apiVersion.js';

// Request bodies of Placement's APIs, as Nova's schemas say them (nova/api/openstack/compute/
// schemas/server_groups.py, services.py), compiled with the others (serverSchemas.ts).

const name = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?! )[\\s\\S]*(?<! )$' };

/** POST /os-server-groups: `policies` (one of them) before 2.64, `policy` and `rules` from it; the soft ones from 2.15. */
export function createServerGroupSchema(v: ApiVersion) {
  const policies = isAtLeast(v, '2.15')
    ? ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'] : ['anti-affinity', 'affinity'];
  const group = isAtLeast(v, '2.64')
    ? {
      type: 'object', required: ['name', 'policy'], additionalProperties: false,
      properties: {
        name, policy: { type: 'string', enum: policies },
        rules: {
          type: 'object', additionalProperties: false,
          properties: { max_server_per_host: { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1 } },
        },
      },
    }
    : {
      type: 'object', required: ['name', 'policies'], additionalProperties: false,
      properties: { name, policies: { type: 'array', items: [{ type: 'string', enum: policies }], uniqueItems: true, minItems: 1, maxItems: 1, additionalItems: false } },
    };
  return { type: 'object', required: ['server_group'], additionalProperties: false, properties: { server_group: group } };
}

/** PUT /os-services/{id} (2.53): status, disabled_reason, forced_down; at least one. */
export const updateServiceSchema = {
  type: 'object', additionalProperties: false, minProperties: 1,
  properties: {
    status: { type: 'string', enum: ['enabled', 'disabled'] },
    disabled_reason: { type: 'string', minLength: 1, maxLength: 255 },
    forced_down: { type: ['boolean', 'string'], enum: [true, false, 'True', 'true', 'False', 'false'] },
  },
};

/** PUT /os-services/{enable,disable,disable-log-reason,force-down} before 2.53: the host and binary, with a reason or forced_down. */
export const serviceActionSchema = {
  type: 'object', required: ['host', 'binary'], additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 },
    binary: { type: 'string', minLength: 1, maxLength: 255 },
    disabled_reason: { type: 'string', minLength: 1, maxLength: 255 },
    forced_down: { type: ['boolean', 'string'], enum: [true, false, 'True', 'true', 'False', 'false'] },
  },
};

// Nova takes either spelling's case (nova/api/openstack/compute/schemas/hosts.py).
const hostSwitch = { type: 'string', enum: ['enable', 'disable', 'Enable', 'Disable', 'ENABLE', 'DISABLE'] };

/** PUT /os-hosts/{host_name} before 2.43: status or maintenance_mode, at least one. */
export const updateHostSchema = {
  type: 'object', additionalProperties: false,
  properties: { status: hostSwitch, maintenance_mode: hostSwitch },
  anyOf: [{ required: ['status'] }, { required: ['maintenance_mode'] }],
};

const aggregateName = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?! )[\\s\\S]*(?<! )$' };
const zoneName = { type: ['string', 'null'], minLength: 1, maxLength: 255, pattern: '^[^:]*$' };

/** POST /os-aggregates (nova/api/openstack/compute/schemas/aggregates.py). */
export const createAggregateSchema = {
  type: 'object', required: ['aggregate'], additionalProperties: false,
  properties: {
    aggregate: {
      type: 'object', required: ['name'], additionalProperties: false,
      properties: { name: aggregateName, availability_zone: zoneName },
    },
  },
};

/** PUT /os-aggregates/{id}: a name or a zone, at least one. */
export const updateAggregateSchema = {
  type: 'object', required: ['aggregate'], additionalProperties: false,
  properties: {
    aggregate: {
      type: 'object', additionalProperties: false, minProperties: 1,
      properties: { name: aggregateName, availability_zone: zoneName },
    },
  },
};

const hostBody = { type: 'object', required: ['host'], additionalProperties: false, properties: { host: { type: 'string', minLength: 1, maxLength: 255 } } };

/** POST /os-aggregates/{id}/action: one of add_host, remove_host, set_metadata. */
export const aggregateActionSchema = {
  type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: false,
  properties: {
    add_host: hostBody,
    remove_host: hostBody,
    set_metadata: {
      type: 'object', required: ['metadata'], additionalProperties: false,
      properties: {
        metadata: {
          type: 'object', additionalProperties: false,
          patternProperties: { '^[a-zA-Z0-9-_:. /]{1,255}$': { type: ['string', 'null'], maxLength: 255 } },
        },
      },
    },
  },
};
