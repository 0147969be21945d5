import { isAtLeast, type ApiVersion } from './apiVersion.js';

// Request bodies of Nova's admin half: flavors' extra specs and access
// (nova/api/openstack/compute/schemas/flavors_extraspecs.py, flavor_access.py) and quotas
// (schemas/quota_sets.py, quota_classes.py), compiled with the others (serverSchemas.ts).

const SPEC_KEY = '^[a-zA-Z0-9-_:. ]{1,255}$';
const specs = {
  type: 'object', additionalProperties: false,
  patternProperties: { [SPEC_KEY]: { type: ['string', 'number'], maxLength: 255 } },
} as const;

export const createExtraSpecsBody = {
  type: 'object', required: ['extra_specs'], additionalProperties: false, properties: { extra_specs: specs },
} as const;

export const updateExtraSpecBody = { ...specs, minProperties: 1, maxProperties: 1 } as const;

const tenantAccess = (action: string) => ({
  type: 'object', required: [action], additionalProperties: false,
  properties: {
    [action]: {
      type: 'object', required: ['tenant'], additionalProperties: false,
      properties: { tenant: { type: 'string', minLength: 1, maxLength: 255 } },
    },
  },
});
export const addTenantAccessBody = tenantAccess('addTenantAccess');
export const removeTenantAccessBody = tenantAccess('removeTenantAccess');

const quota = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 0x7FFFFFFF } as const;
const NOVA_NETWORK = ['fixed_ips', 'floating_ips', 'security_groups', 'security_group_rules'];
const INJECTED = ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];
const RESOURCES = ['instances', 'cores', 'ram', 'metadata_items', 'key_pairs', 'server_groups', 'server_group_members', ...NOVA_NETWORK, ...INJECTED];

/** The resources a quota body may name at v: nova-network's go at `dropNetwork`, injected files' at 2.57. */
export function settableQuotas(v: ApiVersion, dropNetwork: string): string[] {
  return RESOURCES.filter((r) => !(isAtLeast(v, dropNetwork) && NOVA_NETWORK.includes(r)) && !(isAtLeast(v, '2.57') && INJECTED.includes(r)));
}

const quotaBody = (wrapper: string, names: string[], extra: Record<string, object> = {}) => ({
  type: 'object', required: [wrapper], additionalProperties: false,
  properties: {
    [wrapper]: {
      type: 'object', additionalProperties: false,
      properties: { ...Object.fromEntries(names.map((r) => [r, quota])), ...extra },
    },
  },
});

const novaBoolean = { type: ['boolean', 'string'], enum: [true, false, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'] };

/** PUT /os-quota-sets/{id} at v: `force` skips the check against usage. */
export const updateQuotaSetSchema = (v: ApiVersion) => quotaBody('quota_set', settableQuotas(v, '2.36'), { force: novaBoolean });
/** PUT /os-quota-class-sets/{id} at v. */
export const updateQuotaClassSetSchema = (v: ApiVersion) => quotaBody('quota_class_set', settableQuotas(v, '2.50'));
