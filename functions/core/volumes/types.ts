import { NotFound } from '../shared/errors.js';

// Volume types: Cinder's `__DEFAULT__` and one that makes multiattach volumes (extra spec
// `multiattach="<is> True"`, the only way Cinder still offers to make one). Fixed: taskgate has
// no volume type management.

export interface VolumeType {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly isPublic: boolean;
  readonly extraSpecs: Record<string, string>;
}

export const DEFAULT_TYPE: VolumeType = {
  id: '9bd5c2ac-13c5-4f52-9b7a-0c2f6a8e4d01', name: '__DEFAULT__', description: 'Default Volume Type', isPublic: true, extraSpecs: {},
};
export const MULTIATTACH_TYPE: VolumeType = {
  id: '5e4a8c1d-7b2f-4e3a-8d6c-1f0b9a2e3c41', name: 'multiattach', description: 'Volumes that may be attached to several servers',
  isPublic: true, extraSpecs: { multiattach: '<is> True' },
};

export const VOLUME_TYPES: readonly VolumeType[] = [DEFAULT_TYPE, MULTIATTACH_TYPE];

export const isMultiattach = (type: VolumeType) => type.extraSpecs.multiattach === '<is> True';

/** A type by id or by name, as Cinder's create and show accept either; Cinder's 404 otherwise. */
export function findVolumeType(idOrName: string): VolumeType {
  const found = VOLUME_TYPES.find((t) => t.id === idOrName.toLowerCase() || t.name === idOrName);
  if (!found) throw new NotFound(`Volume type with name ${idOrName} could not be found.`);
  return found;
}

export const volumeTypeById = (id: string): VolumeType => VOLUME_TYPES.find((t) => t.id === id) ?? DEFAULT_TYPE;
