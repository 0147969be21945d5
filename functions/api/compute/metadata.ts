import type { AdmissionDeps } from '../../core/compute/admission.js';
import { BadRequest, NotFound } from '../../core/shared/errors.js';
import { getServer } from '../../core/compute/instanceStore.js';
import { changeServerAttribute, type FieldRule } from '../../core/compute/serverFields.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, json, pathParam, type ApiRoute } from '../http.js';
import { checkBody, metadataBody, metaItemBody, tagsBody } from '../serverSchemas.js';
import { checkMetadataQuota } from './servers.js';

// Server metadata (server_metadata.py) and, from 2.26, server tags (server_tags.py). Each change
// is one compare-and-set write on the instance item, refused as Nova's compute API refuses it:
// metadata needs an unlocked server in active, paused, suspended or stopped with no task running;
// tags need one of those vm_states.

type Metadata = Record<string, string>;

const metadataRule = (verb: string): FieldRule => ({
  verb, lock: true, idle: true, vmStates: ['active', 'paused', 'suspended', 'stopped'],
});
const tagsRule = (verb: string): FieldRule => ({ verb, vmStates: ['active', 'paused', 'suspended', 'stopped'] });

const MAX_TAGS = 50;

export function metadataRoutes(deps: AdmissionDeps): ApiRoute[] {
  const base = '/v2.1/servers/{server_id}';
  const id = (e: Parameters<ApiRoute['handler']>[0]) => pathParam(e, 'server_id');
  const replace = (mode: 'set' | 'update'): ApiRoute['handler'] => async (event, ctx) => {
    const { metadata } = checkBody<{ metadata: Metadata }>('metadata', ctx.apiVersion, event.body);
    const server = await changeServerAttribute<Metadata>(deps.table, ctx.caller, id(event), 'metadata', (current) => {
      const next = mode === 'set' ? { ...metadata } : { ...current, ...metadata };
      checkMetadataQuota(next);
      return next;
    }, metadataRule('update metadata'));
    return json(200, { metadata: server.metadata ?? {} });
  };
  const tagsOf = async (event: Parameters<ApiRoute['handler']>[0], ctx: Parameters<ApiRoute['handler']>[1]) => {
    if (!isAtLeast(ctx.apiVersion, '2.26')) throw new NotFound('The resource could not be found.');
    return getServer(deps.table, ctx.caller, id(event));
  };
  const requireTags = (ctx: Parameters<ApiRoute['handler']>[1]) => {
    if (!isAtLeast(ctx.apiVersion, '2.26')) throw new NotFound('The resource could not be found.');
  };
  return [
    {
      method: 'GET', path: `${base}/metadata`, policy: 'os_compute_api:server-metadata:index',
      doc: { summary: 'List server metadata', success: [200] },
      handler: async (event, ctx) => json(200, { metadata: (await getServer(deps.table, ctx.caller, id(event))).metadata ?? {} }),
    },
    {
      method: 'PUT', path: `${base}/metadata`, policy: 'os_compute_api:server-metadata:update_all',
      body: metadataBody, handler: replace('set'), doc: { summary: 'Replace server metadata', success: [200] },
    },
    {
      method: 'POST', path: `${base}/metadata`, policy: 'os_compute_api:server-metadata:create',
      body: metadataBody, handler: replace('update'), doc: { summary: 'Update server metadata', success: [200] },
    },
    {
      method: 'GET', path: `${base}/metadata/{key}`, policy: 'os_compute_api:server-metadata:show',
      doc: { summary: 'Show a server metadata item', success: [200] },
      handler: async (event, ctx) => {
        const server = await getServer(deps.table, ctx.caller, id(event));
        const key = pathParam(event, 'key');
        const value = server.metadata?.[key];
        if (value === undefined || !Object.hasOwn(server.metadata!, key)) throw new NotFound('Metadata item was not found');
        return json(200, { meta: { [key]: value } });
      },
    },
    {
      method: 'PUT', path: `${base}/metadata/{key}`, policy: 'os_compute_api:server-metadata:update',
      body: metaItemBody, doc: { summary: 'Set a server metadata item', success: [200] },
      handler: async (event, ctx) => {
        const { meta } = checkBody<{ meta: Metadata }>('metaItem', ctx.apiVersion, event.body);
        const key = pathParam(event, 'key');
        if (!Object.hasOwn(meta, key)) throw new BadRequest('Request body and URI mismatch');
        await changeServerAttribute<Metadata>(deps.table, ctx.caller, id(event), 'metadata', (current) => {
          const next = { ...current, [key]: meta[key]! };
          checkMetadataQuota(next);
          return next;
        }, metadataRule('update metadata'));
        return json(200, { meta });
      },
    },
    {
      method: 'DELETE', path: `${base}/metadata/{key}`, policy: 'os_compute_api:server-metadata:delete',
      doc: { summary: 'Delete a server metadata item', success: [204] },
      handler: async (event, ctx) => {
        const key = pathParam(event, 'key');
        const server = await getServer(deps.table, ctx.caller, id(event));
        if (!server.metadata || !Object.hasOwn(server.metadata, key)) throw new NotFound('Metadata item was not found');
        await changeServerAttribute<Metadata>(deps.table, ctx.caller, id(event), 'metadata', (current) => {
          if (!Object.hasOwn(current, key)) throw new NotFound('Metadata item was not found');
          const { [key]: _gone, ...rest } = current;
          return rest;
        }, metadataRule('delete metadata'));
        return empty(204);
      },
    },
    {
      method: 'GET', path: `${base}/tags`, policy: 'os_compute_api:os-server-tags:index', doc: { summary: 'List server tags (2.26)', success: [200] },
      handler: async (event, ctx) => json(200, { tags: [...((await tagsOf(event, ctx)).tags ?? [])] }),
    },
    {
      method: 'PUT', path: `${base}/tags`, policy: 'os_compute_api:os-server-tags:update_all',
      body: tagsBody, doc: { summary: 'Replace server tags (2.26)', success: [200] },
      handler: async (event, ctx) => {
        requireTags(ctx);
        const { tags } = checkBody<{ tags: string[] }>('tags', ctx.apiVersion, event.body);
        const server = await changeServerAttribute<string[]>(deps.table, ctx.caller, id(event), 'tags',
          () => [...new Set(tags)], tagsRule('update tags'));
        return json(200, { tags: server.tags ?? [] });
      },
    },
    {
      method: 'DELETE', path: `${base}/tags`, policy: 'os_compute_api:os-server-tags:delete_all',
      doc: { summary: 'Delete all server tags (2.26)', success: [204] },
      handler: async (event, ctx) => {
        requireTags(ctx);
        await changeServerAttribute<string[]>(deps.table, ctx.caller, id(event), 'tags', () => [], tagsRule('delete tags'));
        return empty(204);
      },
    },
    {
      method: 'GET', path: `${base}/tags/{tag}`, policy: 'os_compute_api:os-server-tags:show',
      doc: { summary: 'Check a server tag (2.26)', success: [204] },
      handler: async (event, ctx) => {
        const server = await tagsOf(event, ctx);
        const t = pathParam(event, 'tag');
        if (!(server.tags ?? []).includes(t)) throw new NotFound(`Tag ${t} could not be found for server ${server.id}`);
        return empty(204);
      },
    },
    {
      method: 'PUT', path: `${base}/tags/{tag}`, policy: 'os_compute_api:os-server-tags:update',
      doc: { summary: 'Add a server tag (2.26)', success: [201, 204] },
      handler: async (event, ctx) => {
        requireTags(ctx);
        const t = pathParam(event, 'tag');
        checkBody('tag', ctx.apiVersion, t);
        let existed = false;
        const server = await changeServerAttribute<string[]>(deps.table, ctx.caller, id(event), 'tags', (current) => {
          existed = current.includes(t);
          if (existed) return current;
          if (current.length >= MAX_TAGS) {
            throw new BadRequest(`The number of tags exceeded the per-server limit ${MAX_TAGS}`);
          }
          return [...current, t];
        }, tagsRule('update tag'));
        const location = `${ctx.baseUrl}/v2.1/servers/${server.id}/tags/${encodeURIComponent(t)}`;
        return { statusCode: existed ? 204 : 201, headers: { location }, body: '' };
      },
    },
    {
      method: 'DELETE', path: `${base}/tags/{tag}`, policy: 'os_compute_api:os-server-tags:delete',
      doc: { summary: 'Delete a server tag (2.26)', success: [204] },
      handler: async (event, ctx) => {
        requireTags(ctx);
        const t = pathParam(event, 'tag');
        await changeServerAttribute<string[]>(deps.table, ctx.caller, id(event), 'tags', (current) => {
          if (!current.includes(t)) throw new NotFound(`Tag ${t} could not be found for server ${id(event)}`);
          return current.filter((x) => x !== t);
        }, tagsRule('delete tag'));
        return empty(204);
      },
    },
  ];
}
