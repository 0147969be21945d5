import type { Caller } from '../compute/instance.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import type { Table } from '../shared/table.js';
import { isVisibleTo, requireOwner } from './access.js';
import { glanceTime, isDeleted, type Image } from './image.js';
import { changeImage } from './store.js';

// DELETE /v2/images/{id} (ImagesController.delete): the owner's or an administrator's, never a
// protected image's. The record stays, status deleted, as Glance's row does: lists and shows
// hide it, its id is never given again, and the servers built from it still name it.

export function deleteImage(table: Table, caller: Caller, id: string, now: number): Promise<Image> {
  const notFound = `Failed to find image ${id} to delete`;
  return changeImage(table, id, (current) => {
    if (!current || isDeleted(current) || !isVisibleTo(caller, current)) throw new NotFound(notFound);
    requireOwner(caller, current, 'delete_image', notFound);
    if (current.protected) throw new Forbidden(`Image ${id} is protected and cannot be deleted.`);
    const at = glanceTime(now);
    return { ...current, status: 'deleted', deleted_at: at, updated_at: at };
  });
}
