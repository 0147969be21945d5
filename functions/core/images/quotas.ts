import { BadRequest } from '../shared/errors.js';
import { RESERVED_NAMESPACE, type Image } from './image.js';

// Glance's limits on one image (glance/common/config.py image_property_quota, image_tag_quota;
// glance/db/sqlalchemy/api.py _validate_db_int), checked before anything is written.

export const MAX_PROPERTIES = 128;
export const MAX_TAGS = 128;
const MAX_DB_INT = 2 ** 31 - 1;

/** Over a quota: Glance answers 413 (its LimitExceeded), which the API maps. */
export class ImageLimitExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageLimitExceeded';
  }
}

export function checkLimits(image: Image): void {
  for (const field of ['min_disk', 'min_ram'] as const) {
    if (image[field] < 0) throw new BadRequest(`Invalid value '${image[field]}' for parameter '${field}': Cannot be a negative value`);
  }
  const properties = Object.keys(image.properties).filter((k) => !k.startsWith(RESERVED_NAMESPACE)).length;
  if (properties > MAX_PROPERTIES) {
    throw new ImageLimitExceeded('The limit has been exceeded on the number of allowed image properties. '
      + `Attempted: ${properties}, Maximum: ${MAX_PROPERTIES}`);
  }
  if (image.tags.length > MAX_TAGS) {
    throw new ImageLimitExceeded('The limit has been exceeded on the number of allowed image tags. '
      + `Attempted: ${image.tags.length}, Maximum: ${MAX_TAGS}`);
  }
  for (const field of ['min_disk', 'min_ram'] as const) {
    if (image[field] > MAX_DB_INT) throw new BadRequest(`'${field}' value out of range, must not exceed ${MAX_DB_INT}.`);
  }
}
