import { isVisibleTo, ownsImage } from '../images/access.js';
import { isReserved } from '../images/create.js';
import { glanceTime, isDeleted, type Image } from '../images/image.js';
import { IMAGE_PROPERTIES } from '../images/schema.js';
import { changeImage, readImage } from '../images/store.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import type { Table } from '../shared/table.js';
import type { Caller } from './instance.js';

// Nova's image proxy (nova/api/openstack/compute/images.py, image_metadata.py): Nova reads and
// changes images through the image service as the caller, and words its refusals its own way:
// an image the caller cannot see is "Image not found.", a change the image service refuses is
// "Not authorized for image <id>.".

/** Nova's default metadata_items quota, which image metadata is held to. */
export const IMAGE_METADATA_ITEMS = 128;

/** The image as Nova shows it to the caller, or Nova's 404. */
export async function imageForNova(table: Table, caller: Caller, id: string): Promise<Image> {
  const image = await readImage(table, id);
  if (!image || isDeleted(image) || !isVisibleTo(caller, image)) throw new NotFound('Image not found.');
  return image;
}

/**
 * Sets the image's metadata (its custom properties) to what `change` makes of it, on the version
 * read. Keys the image service would refuse (its base attributes, reserved names) are refused as
 * Nova passes on the image service's 403.
 */
export function changeImageMetadata(
  table: Table, caller: Caller, id: string, change: (metadata: Readonly<Record<string, string>>) => Record<string, string>, now: number,
): Promise<Image> {
  return changeImage(table, id, (current) => {
    if (!current || isDeleted(current) || !isVisibleTo(caller, current)) throw new NotFound('Image not found.');
    const metadata = change(current.properties);
    if (Object.keys(metadata).length > IMAGE_METADATA_ITEMS) throw new Forbidden('Image metadata limit exceeded');
    if (!ownsImage(caller, current) || Object.keys(metadata).some((key) => Object.hasOwn(IMAGE_PROPERTIES, key) || isReserved(key))) {
      throw new Forbidden(`Not authorized for image ${id}.`);
    }
    return { ...current, properties: metadata, updated_at: glanceTime(now) };
  });
}
