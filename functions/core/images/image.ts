// An image as Glance v2 keeps and shows it (glance/domain Image, glance/api/v2/images.py). Its
// fields keep Glance's own names: clients address them by those names (JSON patch paths, list
// filters, sort keys), so the record is what the wire says, field for field.

/** glance/db/sqlalchemy/api.py STATUSES. */
export const IMAGE_STATUSES = [
  'queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated',
] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const VISIBILITIES = ['community', 'public', 'private', 'shared'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** Glance's defaults for [image_format] container_formats and disk_formats. */
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;

export interface Image {
  readonly id: string;
  readonly name: string | null;
  readonly status: ImageStatus;
  readonly visibility: Visibility;
  /** The owning project; null for an image no project owns (taskgate's built-in ones). */
  readonly owner: string | null;
  readonly protected: boolean;
  readonly os_hidden: boolean;
  /** GiB and MiB a server needs to boot it: Nova refuses a smaller flavor. */
  readonly min_disk: number;
  readonly min_ram: number;
  readonly disk_format: string | null;
  readonly container_format: string | null;
  readonly size: number | null;
  readonly virtual_size: number | null;
  readonly checksum: string | null;
  readonly os_hash_algo: string | null;
  readonly os_hash_value: string | null;
  /** `2026-01-02T03:04:05Z`: Glance's own spelling (seconds, UTC). */
  readonly created_at: string;
  /**
   * The creation time to the millisecond (epoch ms), never shown: Glance's database keeps more
   * than the seconds its JSON shows, so images made within one second still list, and rotate
   * out, in the order they were made. Absent on built-in and older records (0).
   */
  readonly created_ms?: number;
  readonly updated_at: string;
  readonly tags: readonly string[];
  /** Custom properties (Glance's extra properties): any other key, a string value. */
  readonly properties: Readonly<Record<string, string>>;
  /** Set by delete: the record stays, as Glance's row does, and its id is never reused. */
  readonly deleted_at?: string;
  /**
   * Bumped by every write and the condition of the next one, so two writers never both change
   * what one of them read. 0: a built-in image no write has touched yet (no item in the table).
   */
  readonly version: number;
  /** The request that created it: a retry of that request finds it made (functions/core/images/store.ts). */
  readonly request_id?: string;
  /**
   * The AMI that holds it, when the EC2 driver made it (a server's snapshot or backup): what a
   * rotation deregisters. Never shown: Glance has no such field.
   */
  readonly ec2ImageId?: string;
}

export const isDeleted = (image: Image) => image.status === 'deleted';

/** Keys in this namespace are Glance's own: clients may not set them (glance/api/common.py GLANCE_RESERVED_NS). */
export const RESERVED_NAMESPACE = 'os_glance';

/** Glance's timestamp spelling (timeutils.isotime): seconds, `Z`. */
export const glanceTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

const SEEDED_AT = '2024-01-01T00:00:00Z';

/** A public, active qcow2 image no project owns, as an operator uploads for every project to boot. */
const builtIn = (id: string, name: string): Image => ({
  id, name, status: 'active', visibility: 'public', owner: null, protected: false, os_hidden: false,
  min_disk: 0, min_ram: 0, disk_format: 'qcow2', container_format: 'bare',
  // About a CirrOS qcow2 disk's size. taskgate holds no image data, so it states no checksum.
  size: 21_430_272, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null,
  created_at: SEEDED_AT, updated_at: SEEDED_AT, tags: [], properties: {}, version: 0,
});

/**
 * The images every deployment starts with. Their ids are the `imageRef` of the README's
 * walk-through and of the tests: they must stay bootable. Administrators may change or delete
 * them; the change is then a table item that overrides the built-in record.
 */
export const DEFAULT_IMAGES: readonly Image[] = [
  builtIn('70a599e0-31e7-49b7-b260-868f441e862b', 'cirros'),
  builtIn('155d900f-4e14-4e4c-a73d-069cbf4541e6', 'cirros-alt'),
];
