import type { Image } from '../../core/images/image.js';

// An image as Glance v2 shows it (glance/api/v2/images.py ResponseSerializer._format_image):
// custom properties first, then the base attributes, tags, and links relative to the image
// endpoint (`/v2/images/<id>`), which clients join to the endpoint they called.

/** Properties Glance keeps for itself and never shows. */
const HIDDEN_PROPERTIES = ['os_glance_stage_host', 'os_glance_hash_op_host'];

export const imagePath = (id: string) => `/v2/images/${id}`;

export function imageView(image: Image) {
  const properties = Object.fromEntries(Object.entries(image.properties).filter(([key]) => !HIDDEN_PROPERTIES.includes(key)));
  return {
    ...properties,
    name: image.name,
    disk_format: image.disk_format,
    container_format: image.container_format,
    visibility: image.visibility,
    size: image.size,
    virtual_size: image.virtual_size,
    status: image.status,
    checksum: image.checksum,
    protected: image.protected,
    min_ram: image.min_ram,
    min_disk: image.min_disk,
    owner: image.owner,
    os_hidden: image.os_hidden,
    os_hash_algo: image.os_hash_algo,
    os_hash_value: image.os_hash_value,
    id: image.id,
    created_at: image.created_at,
    updated_at: image.updated_at,
    tags: [...image.tags],
    self: imagePath(image.id),
    file: `${imagePath(image.id)}/file`,
    schema: '/v2/schemas/image',
  };
}

/** Python's urlencode (quote_plus), which Glance's `first` and `next` links are written with. */
export function pythonUrlencode(params: readonly (readonly [string, string])[]): string {
  const quote = (text: string) => encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
  return params.map(([k, v]) => `${quote(k)}=${quote(v)}`).join('&');
}
