import type { AdmissionDeps } from '../../core/compute/admission.js';
import { changeImageMetadata, imageForNova } from '../../core/compute/imageMetadata.js';
import { deleteImage } from '../../core/images/delete.js';
import type { Image } from '../../core/images/image.js';
import { imageListQuery, listImages } from '../../core/images/listing.js';
import { BadRequest, Forbidden, NotFound } from '../../core/shared/errors.js';
import { isAtLeast } from '../apiVersion.js';
import { empty, json, pathParam, type ApiContext, type ApiEvent, type Route } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { pageLimit } from '../listQuery.js';
import { checkBody } from '../serverSchemas.js';

// Nova's image proxy (nova/api/openstack/compute/images.py, views/images.py): the image
// service's images in Nova's shape, up to microversion 2.35; their metadata (image_metadata.py)
// up to 2.38. Later microversions answer 404, as Nova does: clients ask the image service.

const LAST_PROXY = '2.35';
const LAST_METADATA_PROXY = '2.38';

/** The route up to microversion `last` (2.x); Nova's 404 after it, before anything else is checked. */
function upTo(last: string, route: Route): Route {
  const after = `2.${Number(last.split('.')[1]) + 1}`;
  return async (event, ctx) => {
    if (isAtLeast(ctx.apiVersion, after)) throw new NotFound('The resource could not be found.');
    return route(event, ctx);
  };
}

const STATUS: Record<string, string> = {
  active: 'ACTIVE', queued: 'SAVING', saving: 'SAVING', deleted: 'DELETED', pending_delete: 'DELETED', killed: 'ERROR',
};
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, active: 100 };

function links(base: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/images/${id}` },
    { rel: 'bookmark', href: `${base}/images/${id}` },
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${base}/image/images/${id}` },
  ];
}

const basicView = (image: Image, base: string) => ({ id: image.id, name: image.name, links: links(base, image.id) });

function detailView(image: Image, base: string) {
  const view: Record<string, unknown> = {
    id: image.id, name: image.name, minRam: image.min_ram, minDisk: image.min_disk, metadata: { ...image.properties },
    created: image.created_at, updated: image.updated_at, status: STATUS[image.status] ?? 'UNKNOWN',
    progress: PROGRESS[image.status] ?? 0, 'OS-EXT-IMG-SIZE:size': image.size ?? 0, links: links(base, image.id),
  };
  const server = image.properties.instance_uuid;
  if (server !== undefined) {
    view.server = { id: server, links: [{ rel: 'self', href: `${base}/v2.1/servers/${server}` }, { rel: 'bookmark', href: `${base}/servers/${server}` }] };
  }
  const diskConfig = image.properties.auto_disk_config;
  if (diskConfig !== undefined) view['OS-DCF:diskConfig'] = ['true', '1', 'on', 'yes', 't', 'y'].includes(diskConfig.toLowerCase()) ? 'AUTO' : 'MANUAL';
  return view;
}

/** Nova's filters (SUPPORTED_FILTERS, property-*) as the image service's list parameters. */
function imageServiceQuery(q: Readonly<Record<string, string | undefined>>, limit: number) {
  const params: Record<string, string[]> = { limit: [String(limit)] };
  const put = (name: string, value: string | undefined) => { if (value !== undefined) params[name] = [value]; };
  put('name', q.name);
  put('status', q.status?.toLowerCase());
  put('min_ram', q.minRam);
  put('min_disk', q.minDisk);
  put('instance_uuid', q.server?.replace(/^.*\//, ''));
  put('image_type', q.type);
  if (q['changes-since'] !== undefined) put('updated_at', `gte:${q['changes-since']}`);
  for (const [name, value] of Object.entries(q)) if (name.startsWith('property-')) put(name.slice('property-'.length), value);
  put('marker', q.marker);
  return params;
}

/** The handlers of novaImageRoutes.ts's declarations, loaded on first use. */
export function novaImageHandlers(deps: AdmissionDeps): RouteHandler[] {
  const now = () => (deps.now ?? Date.now)();
  const id = (event: ApiEvent) => pathParam(event, 'image_id');

  const list = (detail: boolean): Route => upTo(LAST_PROXY, async (event, ctx) => {
    const q = event.queryStringParameters ?? {};
    const limit = pageLimit(q.limit);
    const page = await listImages(deps.table, ctx.caller, imageListQuery(imageServiceQuery(q, limit)));
    const images = page.images.map((image) => (detail ? detailView(image, ctx.baseUrl) : basicView(image, ctx.baseUrl)));
    const last = page.images.at(-1);
    const next = last && page.images.length === limit ? {
      images_links: [{
        rel: 'next',
        href: `${ctx.baseUrl}/v2.1/images${detail ? '/detail' : ''}?${new URLSearchParams({ ...(q as Record<string, string>), marker: last.id })}`,
      }],
    } : {};
    return json(200, { images, ...next });
  });

  const metadataOf = async (event: ApiEvent, ctx: ApiContext) => (await imageForNova(deps.table, ctx.caller, id(event))).properties;
  const setMetadata = (event: ApiEvent, ctx: ApiContext, change: (m: Readonly<Record<string, string>>) => Record<string, string>) =>
    changeImageMetadata(deps.table, ctx.caller, id(event), change, now());
  const proxy = (route: Route) => upTo(LAST_PROXY, route);
  const metadataProxy = (route: Route) => upTo(LAST_METADATA_PROXY, route);
  type Metadata = Record<string, string>;

  return [
    {
      method: 'GET', path: '/v2.1/images',
      handler: list(false),
    },
    {
      method: 'GET', path: '/v2.1/images/detail',
      handler: list(true),
    },
    {
      method: 'GET', path: '/v2.1/images/{image_id}',
      handler: proxy(async (event, ctx) => json(200, { image: detailView(await imageForNova(deps.table, ctx.caller, id(event)), ctx.baseUrl) })),
    },
    {
      method: 'DELETE', path: '/v2.1/images/{image_id}',
      handler: proxy(async (event, ctx) => {
        try {
          await deleteImage(deps.table, ctx.caller, id(event), now());
        } catch (err) {
          if (err instanceof NotFound) throw new NotFound('Image not found.');
          if (err instanceof Forbidden) throw new Forbidden('You are not allowed to delete the image.');
          throw err;
        }
        return empty(204);
      }),
    },
    {
      method: 'GET', path: '/v2.1/images/{image_id}/metadata',
      handler: metadataProxy(async (event, ctx) => json(200, { metadata: await metadataOf(event, ctx) })),
    },
    {
      method: 'POST', path: '/v2.1/images/{image_id}/metadata',
      handler: metadataProxy(async (event, ctx) => {
        const { metadata } = checkBody<{ metadata: Metadata }>('metadata', ctx.apiVersion, event.body);
        return json(200, { metadata: (await setMetadata(event, ctx, (current) => ({ ...current, ...metadata }))).properties });
      }),
    },
    {
      method: 'PUT', path: '/v2.1/images/{image_id}/metadata',
      handler: metadataProxy(async (event, ctx) => {
        const { metadata } = checkBody<{ metadata: Metadata }>('metadata', ctx.apiVersion, event.body);
        await setMetadata(event, ctx, () => ({ ...metadata }));
        return json(200, { metadata });
      }),
    },
    {
      method: 'GET', path: '/v2.1/images/{image_id}/metadata/{key}',
      handler: metadataProxy(async (event, ctx) => {
        const metadata = await metadataOf(event, ctx);
        const key = pathParam(event, 'key');
        if (!Object.hasOwn(metadata, key)) throw new NotFound('The resource could not be found.');
        return json(200, { meta: { [key]: metadata[key] } });
      }),
    },
    {
      method: 'PUT', path: '/v2.1/images/{image_id}/metadata/{key}',
      handler: metadataProxy(async (event, ctx) => {
        const { meta } = checkBody<{ meta: Metadata }>('metaItem', ctx.apiVersion, event.body);
        const key = pathParam(event, 'key');
        if (!Object.hasOwn(meta, key)) throw new BadRequest('Request body and URI mismatch');
        await setMetadata(event, ctx, (current) => ({ ...current, [key]: meta[key]! }));
        return json(200, { meta });
      }),
    },
    {
      method: 'DELETE', path: '/v2.1/images/{image_id}/metadata/{key}',
      handler: metadataProxy(async (event, ctx) => {
        const key = pathParam(event, 'key');
        await setMetadata(event, ctx, (current) => {
          if (!Object.hasOwn(current, key)) throw new NotFound('Invalid metadata key');
          const { [key]: _removed, ...rest } = current;
          return rest;
        });
        return empty(204);
      }),
    },
  ];
}
