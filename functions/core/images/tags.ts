import type { Caller } from '../compute/instance.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import type { Table } from '../shared/table.js';
import { isVisibleTo, ownsImage } from './access.js';
import { glanceTime, isDeleted, type Image } from './image.js';
import { checkLimits, ImageLimitExceeded } from './quotas.js';
import { checkAgainstImageSchema } from './schema.js';
import { changeImage } from './store.js';

// PUT and DELETE /v2/images/{id}/tags/{tag} (glance/api/v2/image_tags.py): one tag in or out,
// with that controller's own words for a refusal.

function taggable(caller: Caller, id: string, image: Image | undefined, verb: 'update' | 'delete'): Image {
  if (!image || isDeleted(image) || !isVisibleTo(caller, image)) throw new NotFound(`Image ${id} not found.`);
  if (!ownsImage(caller, image)) throw new Forbidden(`Not allowed to ${verb} tags for image ${id}.`);
  return image;
}

/** Adds a tag (a tag already there changes nothing but the image's updated_at, as in Glance). */
export function addImageTag(table: Table, caller: Caller, id: string, tag: string, now: number): Promise<Image> {
  checkAgainstImageSchema({ tags: [tag] });
  return changeImage(table, id, (current) => {
    const image = taggable(caller, id, current, 'update');
    const changed = { ...image, tags: image.tags.includes(tag) ? image.tags : [...image.tags, tag], updated_at: glanceTime(now) };
    try {
      checkLimits(changed);
    } catch (err) {
      if (err instanceof ImageLimitExceeded) throw new ImageLimitExceeded(`Image tag limit exceeded for image ${id}: ${err.message}:`);
      throw err;
    }
    return changed;
  });
}

/** Removes a tag; one the image does not have is 404. */
export function removeImageTag(table: Table, caller: Caller, id: string, tag: string, now: number): Promise<Image> {
  return changeImage(table, id, (current) => {
    const image = taggable(caller, id, current, 'delete');
    if (!image.tags.includes(tag)) throw new NotFound('The resource could not be found.');
    return { ...image, tags: image.tags.filter((t) => t !== tag), updated_at: glanceTime(now) };
  });
}
