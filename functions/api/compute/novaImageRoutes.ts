import type { RouteDeclaration } from '../routesOnFirstUse.js';
import { metadataBody, metaItemBody } from '../serverSchemas.js';

// Nova's image proxy (to 2.35) and image metadata (to 2.38): declared here, for the route table the
// API builds as it loads; their handlers (images.ts) load with the first request to one of them
// (routesOnFirstUse.ts).

export const novaImageRoutes: RouteDeclaration[] = [
  {
    method: 'GET', path: '/v2.1/images', policy: 'get_images',
    doc: { summary: 'List images (Nova\'s image proxy, to 2.35)', success: [200], query: ['limit', 'marker', 'name', 'status'] },
  },
  {
    method: 'GET', path: '/v2.1/images/detail', policy: 'get_images',
    doc: { summary: 'List images with details (Nova\'s image proxy, to 2.35)', success: [200], query: ['limit', 'marker', 'name', 'status'] },
  },
  {
    method: 'GET', path: '/v2.1/images/{image_id}', policy: 'get_image',
    doc: { summary: 'Show an image (Nova\'s image proxy, to 2.35)', success: [200] },
  },
  {
    method: 'DELETE', path: '/v2.1/images/{image_id}', policy: 'delete_image',
    doc: { summary: 'Delete an image (Nova\'s image proxy, to 2.35)', success: [204] },
  },
  {
    method: 'GET', path: '/v2.1/images/{image_id}/metadata', policy: 'get_image',
    doc: { summary: 'List an image\'s metadata (Nova\'s image proxy, to 2.38)', success: [200] },
  },
  {
    method: 'POST', path: '/v2.1/images/{image_id}/metadata', policy: 'modify_image', body: metadataBody,
    doc: { summary: 'Add or change image metadata (Nova\'s image proxy, to 2.38)', success: [200] },
  },
  {
    method: 'PUT', path: '/v2.1/images/{image_id}/metadata', policy: 'modify_image', body: metadataBody,
    doc: { summary: 'Replace image metadata (Nova\'s image proxy, to 2.38)', success: [200] },
  },
  {
    method: 'GET', path: '/v2.1/images/{image_id}/metadata/{key}', policy: 'get_image',
    doc: { summary: 'Show an image metadata item (Nova\'s image proxy, to 2.38)', success: [200] },
  },
  {
    method: 'PUT', path: '/v2.1/images/{image_id}/metadata/{key}', policy: 'modify_image', body: metaItemBody,
    doc: { summary: 'Set an image metadata item (Nova\'s image proxy, to 2.38)', success: [200] },
  },
  {
    method: 'DELETE', path: '/v2.1/images/{image_id}/metadata/{key}', policy: 'modify_image',
    doc: { summary: 'Delete an image metadata item (Nova\'s image proxy, to 2.38)', success: [204] },
  },
];
