import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { volumeItem } from '../../functions/core/volumes/volumes.js';
import { DEFAULT_TYPE, MULTIATTACH_TYPE } from '../../functions/core/volumes/types.js';
import type { Volume } from '../../functions/core/volumes/volume.js';
import type { Table } from '../../functions/core/shared/table.js';
import type { Nova } from './nova.js';

// Volumes are Cinder's: Nova attaches only one that Cinder made. Tests make theirs first, on the
// table (seedVolume) or through Cinder's API (Cinder), as a client would.

/**
 * An available volume of `projectId` (alice's `demo` unless said), written straight to the table
 * as Cinder's create leaves it, as seedInstance writes a server: outside the project's quota,
 * which only Cinder's API charges (volumes.test.ts, volumeRaces.test.ts).
 */
export async function seedVolume(
  table: Table, options: { projectId?: string; size?: number; multiattach?: boolean; name?: string } = {},
): Promise<string> {
  const id = crypto.randomUUID();
  const created = new Date().toISOString();
  const type = options.multiattach ? MULTIATTACH_TYPE : DEFAULT_TYPE;
  const volume: Volume = {
    id, projectId: options.projectId ?? 'demo', userId: 'seed', status: 'available', size: options.size ?? 1, name: options.name ?? null,
    description: null, volumeTypeId: type.id, metadata: {}, availabilityZone: 'nova', multiattach: !!options.multiattach,
    bootable: false, created, updated: created, ...(options.multiattach ? { attachments: {} } : {}),
  };
  await table.db.send(new PutCommand({ TableName: table.name, Item: volumeItem(volume, `req-seed-${id}`) }));
  return id;
}
export interface CinderResponse<T = any> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** A minimal Cinder v3 client over real HTTP: `root` is the API's root (no service path). */
export class Cinder {
  constructor(readonly root: string, readonly token = 'alice:demo', readonly project = token.split(':')[1] ?? 'demo',
    readonly headers: Record<string, string> = {}) {}

  /** The API root of a Nova client (its base URL without `/v2.1`). */
  static beside(nova: Nova, token = nova.token, project?: string): Cinder {
    return new Cinder(nova.baseUrl.replace(/\/v2\.1$/, ''), token, project);
  }

  as(token: string, project = token.split(':')[1] ?? this.project): Cinder {
    return new Cinder(this.root, token, project, this.headers);
  }

  atVersion(version: string): Cinder {
    return new Cinder(this.root, this.token, this.project, { ...this.headers, 'OpenStack-API-Version': `volume ${version}` });
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<CinderResponse<T>> {
    const url = path === '/volume' || path.startsWith('/volume/') ? `${this.root}${path}` : `${this.root}/volume/v3/${this.project}${path}`;
    const res = await fetch(url, {
      method,
      headers: {
        ...(this.token ? { 'x-auth-token': this.token } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...this.headers, ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get = <T = any>(path: string) => this.request<T>('GET', path);
  post = <T = any>(path: string, body?: unknown) => this.request<T>('POST', path, body);
  delete = <T = any>(path: string) => this.request<T>('DELETE', path);

  /** Creates an available volume; its id. */
  async create(volume: Record<string, unknown> = {}): Promise<string> {
    const res = await this.post('/volumes', { volume: { size: 1, ...volume } });
    if (res.status !== 202) throw new Error(`volume create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.volume.id;
  }

  async status(id: string): Promise<string> {
    const res = await this.get(`/volumes/${id}`);
    return res.status === 404 ? 'gone' : res.body.volume.status;
  }
}

/** An available volume of the project a Nova client acts for (its noauth token's `user:project`). */
export const seedVolumeFor = (table: Table, nova: Nova, options: { multiattach?: boolean } = {}) =>
  seedVolume(table, { ...options, projectId: nova.token.split(':')[1] ?? 'demo' });
