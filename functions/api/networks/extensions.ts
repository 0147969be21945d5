import { NotFound } from '../../core/shared/errors.js';
import { excerpt } from '../excerpt.js';
import { json, pathParam, type ApiRoute } from '../http.js';
import { V2 } from './common.js';
import { listAnswer } from './listing.js';

// The extensions clients ask for before using a feature: only those taskgate serves, so a client
// never relies on one it does not (no routers, floating IPs, QoS, trunks...).

const UPDATED = '2024-01-01T00:00:00-00:00';

const EXTENSIONS: readonly [alias: string, name: string, description: string][] = [
  ['security-group', 'security-group', 'The security groups extension.'],
  ['port-security', 'Port Security', 'Provides port security'],
  ['external-net', 'Neutron external network', 'Adds external network attribute to network resource.'],
  ['binding', 'Port Binding', 'Expose port bindings of a virtual port to external application'],
  ['standard-attr-description', 'standard-attr-description', 'Extension to add descriptions to standard attributes'],
  ['standard-attr-timestamp', 'Resource timestamps', 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.'],
  ['standard-attr-revisions', 'Resource revision numbers', 'This extension will display the revision number of neutron resources.'],
  ['project-id', 'project_id field enabled', 'Extension that indicates that project_id field is enabled.'],
  ['net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.'],
  ['filter-validation', 'Filter parameters validation', 'Provides validation on filtering parameters.'],
  ['stateful-security-group', 'Stateful security group', 'Indicates if the security group is stateful or not'],
];

const view = ([alias, name, description]: readonly [string, string, string]) => ({ alias, name, description, updated: UPDATED, links: [] });

export function extensionRoutes(): ApiRoute[] {
  return [{
    method: 'GET', path: `${V2}/extensions`, policy: 'get_extension',
    doc: { summary: 'List the Networking API extensions served (Neutron)', success: [200] },
    handler: async (event, ctx) => json(200, listAnswer(event, ctx, 'extensions', EXTENSIONS.map(view))),
  }, {
    method: 'GET', path: `${V2}/extensions/{alias}`, policy: 'get_extension',
    doc: { summary: 'Show a Networking API extension by its alias (Neutron)', success: [200] },
    handler: async (event) => {
      const alias = pathParam(event, 'alias');
      const found = EXTENSIONS.find(([a]) => a === alias);
      if (!found) throw new NotFound(`Extension with alias ${excerpt(alias)} does not exist`, { type: 'ExtensionNotFound' });
      return json(200, { extension: view(found) });
    },
  }];
}
