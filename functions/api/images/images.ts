import type { AdmissionDeps } from '../../core/compute/admission.js';
import { createImage } from '../../core/images/create.js';
import { deleteImage } from '../../core/images/delete.js';
import { imageListQuery, listImages, type QueryParams } from '../../core/images/listing.js';
import { parseImagePatch, patchImage, PATCH_MEDIA_TYPES, visibleImage } from '../../core/images/patch.js';
import { ImageLimitExceeded } from '../../core/images/quotas.js';
import { imageSchemaDocument, imagesSchemaDocument, IMAGE_PROPERTIES } from '../../core/images/schema.js';
import { readImage } from '../../core/images/store.js';
import { addImageTag, removeImageTag } from '../../core/images/tags.js';
import { empty, HttpFault, json, pathParam, type ApiEvent, type ApiRoute, type Route } from '../http.js';
import { imagePath, imageView, pythonUrlencode } from './views.js';

// Glance's images API (v2) under the image endpoint `<base>/image`: list, show, create, JSON-patch
// update, delete, tags, and the schemas. Every error leaves in Glance's shape (novaErrors.ts,
// serviceFault). Image data is not kept: no upload, no download (501), so a created image stays
// queued.

const V2 = '/image/v2';

/** Glance answers a quota it enforces with 413. */
function withGlanceLimits(route: Route): Route {
  return async (event, ctx) => {
    try {
      return await route(event, ctx);
    } catch (err) {
      if (err instanceof ImageLimitExceeded) throw new HttpFault('overLimit', 413, err.message);
      throw err;
    }
  };
}

/** The query's parameters in their order, each with every value it was given. */
function queryParams(event: ApiEvent): QueryParams {
  const multi = event.multiValueQueryStringParameters ?? {};
  const single = event.queryStringParameters ?? {};
  const names = [...new Set([...Object.keys(multi), ...Object.keys(single)])];
  return Object.fromEntries(names.map((name) => [name, (multi[name] ?? (single[name] !== undefined ? [single[name]!] : []))]));
}

/** Glance's `first` and `next` links: the query as it came (its last value of each), marker apart. */
function pageLinks(params: QueryParams, nextMarker: string | undefined) {
  const kept = Object.entries(params).filter(([name, values]) => name !== 'marker' && values.length > 0)
    .map(([name, values]) => [name, values.at(-1)!] as const);
  const query = pythonUrlencode(kept);
  return {
    first: query ? `/v2/images?${query}` : '/v2/images',
    ...(nextMarker ? { next: `/v2/images?${pythonUrlencode([...kept, ['marker', nextMarker]])}` } : {}),
  };
}

/** The patch's media type, one of Glance's two, or its 415 naming them. */
function patchDraft(event: ApiEvent) {
  const type = (event.headers?.['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (Object.hasOwn(PATCH_MEDIA_TYPES, type)) return PATCH_MEDIA_TYPES[type as keyof typeof PATCH_MEDIA_TYPES];
  const allowed = Object.keys(PATCH_MEDIA_TYPES).sort().join(', ');
  throw new HttpFault('badMediaType', 415, `Image PATCH expects Content-Type one of: ${allowed}`, { 'accept-patch': allowed });
}

const LIST_QUERY = ['limit', 'marker', 'name', 'status', 'visibility', 'owner', 'tag', 'member_status', 'protected', 'os_hidden',
  'id', 'container_format', 'disk_format', 'size_min', 'size_max', 'created_at', 'updated_at', 'sort_key', 'sort_dir', 'sort'];

/** The create body's schema, for the OpenAPI document: Glance's image schema, custom properties as strings. */
const CREATE_BODY = { type: 'object', properties: IMAGE_PROPERTIES, additionalProperties: { type: 'string' } };
const PATCH_BODY = {
  type: 'array',
  items: {
    type: 'object', required: ['op', 'path'],
    properties: { op: { enum: ['add', 'remove', 'replace'] }, path: { type: 'string' }, value: {} },
  },
};

export function imageRoutes(deps: AdmissionDeps): ApiRoute[] {
  const now = () => (deps.now ?? Date.now)();
  const id = (event: ApiEvent) => pathParam(event, 'image_id');

  const list: Route = async (event, ctx) => {
    const params = queryParams(event);
    const page = await listImages(deps.table, ctx.caller, imageListQuery(params));
    return json(200, { images: page.images.map(imageView), ...pageLinks(params, page.nextMarker), schema: '/v2/schemas/images' });
  };

  const show: Route = async (event, ctx) => json(200, imageView(visibleImage(ctx.caller, id(event), await readImage(deps.table, id(event)))));

  // Glance 2.12's image tasks (imports, location updates): taskgate runs none, so an image the
  // caller sees has none; one it does not see is 404.
  const tasks: Route = async (event, ctx) => {
    visibleImage(ctx.caller, id(event), await readImage(deps.table, id(event)));
    return json(200, { tasks: [] });
  };

  const create: Route = async (event, ctx) => {
    const image = await createImage(deps.table, { caller: ctx.caller, requestId: ctx.requestId, body: event.body, now: now() });
    return json(201, imageView(image), { location: `${ctx.baseUrl}/image${imagePath(image.id)}` });
  };

  const update: Route = async (event, ctx) => {
    const changes = parseImagePatch(event.body, patchDraft(event));
    return json(200, imageView(await patchImage(deps.table, ctx.caller, id(event), changes, now())));
  };

  const remove: Route = async (event, ctx) => {
    await deleteImage(deps.table, ctx.caller, id(event), now());
    return empty(204);
  };

  const tag = (add: boolean): Route => async (event, ctx) => {
    const value = pathParam(event, 'tag_value');
    await (add ? addImageTag : removeImageTag)(deps.table, ctx.caller, id(event), value, now());
    return empty(204);
  };

  // taskgate keeps no image data. Glance answers 204 for the data of an image that has none.
  const download: Route = async (event, ctx) => {
    const image = visibleImage(ctx.caller, id(event), await readImage(deps.table, id(event)));
    if (image.status === 'queued') return empty(204);
    throw new HttpFault('notImplemented', 501, 'taskgate keeps no image data: image download is not implemented.');
  };
  const upload: Route = async (event, ctx) => {
    visibleImage(ctx.caller, id(event), await readImage(deps.table, id(event)));
    throw new HttpFault('notImplemented', 501, 'taskgate keeps no image data: image upload is not implemented.');
  };

  return [
    {
      method: 'GET', path: `${V2}/images`, policy: 'get_images', handler: list,
      doc: { summary: 'List images (Glance)', success: [200], query: LIST_QUERY },
    },
    {
      method: 'POST', path: `${V2}/images`, policy: 'add_image', handler: withGlanceLimits(create), body: CREATE_BODY,
      doc: { summary: 'Create an image record, status queued (Glance)', success: [201] },
    },
    {
      method: 'GET', path: `${V2}/images/{image_id}`, policy: 'get_image', handler: show,
      doc: { summary: 'Show an image (Glance)', success: [200] },
    },
    {
      method: 'GET', path: `${V2}/images/{image_id}/tasks`, policy: 'get_image', handler: tasks,
      doc: { summary: 'List an image\'s tasks: none (Glance 2.12)', success: [200] },
    },
    {
      method: 'PATCH', path: `${V2}/images/{image_id}`, policy: 'modify_image', handler: withGlanceLimits(update), body: PATCH_BODY,
      doc: { summary: 'Update an image with a JSON patch (application/openstack-images-v2.1-json-patch; Glance)', success: [200] },
    },
    {
      method: 'DELETE', path: `${V2}/images/{image_id}`, policy: 'delete_image', handler: remove,
      doc: { summary: 'Delete an image (Glance)', success: [204] },
    },
    {
      method: 'PUT', path: `${V2}/images/{image_id}/tags/{tag_value}`, policy: 'modify_image', handler: withGlanceLimits(tag(true)),
      doc: { summary: 'Add an image tag (Glance)', success: [204] },
    },
    {
      method: 'DELETE', path: `${V2}/images/{image_id}/tags/{tag_value}`, policy: 'modify_image', handler: tag(false),
      doc: { summary: 'Remove an image tag (Glance)', success: [204] },
    },
    {
      method: 'GET', path: `${V2}/images/{image_id}/file`, policy: 'download_image', handler: download,
      doc: { summary: 'Download image data: 204 for an image without data, else 501 (taskgate keeps none)', success: [204] },
    },
    {
      method: 'PUT', path: `${V2}/images/{image_id}/file`, policy: 'upload_image', handler: upload,
      doc: { summary: 'Upload image data: 501 (taskgate keeps none)', success: [204] },
    },
    {
      method: 'GET', path: `${V2}/schemas/image`, policy: 'get_image_schemas', handler: async () => json(200, imageSchemaDocument()),
      doc: { summary: 'Show the image schema (Glance)', success: [200] },
    },
    {
      method: 'GET', path: `${V2}/schemas/images`, policy: 'get_image_schemas', handler: async () => json(200, imagesSchemaDocument()),
      doc: { summary: 'Show the image list schema (Glance)', success: [200] },
    },
  ];
}
