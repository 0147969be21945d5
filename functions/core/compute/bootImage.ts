import { isVisibleTo } from '../images/access.js';
import { isDeleted, type Image } from '../images/image.js';
import { findImageToBoot } from '../images/store.js';
import { BadRequest } from '../shared/errors.js';
import type { Table } from '../shared/table.js';
import type { Flavor } from './flavors.js';
import type { Caller } from './instance.js';

// The image a server is built from, as Nova's compute API checks it before anything is written
// (nova/compute/api.py _get_image, _validate_flavor_image): it must be one the caller may read
// from the image service, active, and fit the flavor.

const GiB = 1024 ** 3;

/** The image the caller may boot by this id; undefined where the image service would answer 404. */
export async function imageToBoot(table: Table, caller: Caller, imageRef: string): Promise<Image | undefined> {
  const image = await findImageToBoot(table, imageRef.toLowerCase());
  return image && !isDeleted(image) && isVisibleTo(caller, image) ? image : undefined;
}

/** Nova's refusal of this image for this flavor (ImageNotActive, FlavorMemoryTooSmall, FlavorDiskTooSmall), or undefined. */
export function imageRefusal(image: Image, flavor: Pick<Flavor, 'ram' | 'disk'>): BadRequest | undefined {
  if (image.status !== 'active') return new BadRequest(`Image ${image.id} is not active.`);
  if (flavor.ram < image.min_ram) return new BadRequest('Flavor\'s memory is too small for requested image.');
  const flavorDisk = flavor.disk * GiB;
  // A flavor without a root disk size takes the image's (Nova: root_gb 0 means "do not check").
  if (flavorDisk === 0) return undefined;
  const size = image.size ?? 0;
  if (size > flavorDisk) {
    return new BadRequest(`Flavor's disk is too small for requested image. Flavor disk is ${flavorDisk} bytes, image is ${size} bytes.`);
  }
  const minDisk = image.min_disk * GiB;
  if (minDisk > flavorDisk) {
    return new BadRequest('Flavor\'s disk is smaller than the minimum size specified in image metadata. '
      + `Flavor disk is ${flavorDisk} bytes, minimum size is ${minDisk} bytes.`);
  }
  return undefined;
}
