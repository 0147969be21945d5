import { versionString } from '../apiVersion.js';
import { json, PUBLIC, type ApiRoute } from '../http.js';
import { VOLUME_MAX_VERSION, VOLUME_MIN_VERSION } from './microversion.js';

// Cinder's version discovery (cinder/api/versions.py): the one API, v3, with its microversion
// range. `/volume/` lists it as Cinder's root does (300 Multiple Choices), `/volume/v3/` as its
// versioned root does (200). No token needed.

/** Cinder's api_version_request.UPDATED for its maximum. */
const UPDATED = '2023-08-31T00:00:00Z';

const v3 = (base: string) => ({
  id: 'v3.0', status: 'CURRENT', version: versionString(VOLUME_MAX_VERSION), min_version: versionString(VOLUME_MIN_VERSION),
  updated: UPDATED,
  links: [
    { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
    { rel: 'self', href: `${base}/volume/v3/` },
  ],
  'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
});

export function volumeVersionRoutes(): ApiRoute[] {
  const all: ApiRoute['handler'] = async (_event, ctx) => json(300, { versions: [v3(ctx.baseUrl)] });
  const one: ApiRoute['handler'] = async (_event, ctx) => json(200, { versions: [v3(ctx.baseUrl)] });
  const doc = (summary: string, success: number) => ({ summary, success: [success] });
  return [
    { method: 'GET', path: '/volume', policy: PUBLIC, handler: all, doc: doc('List Block Storage API versions', 300) },
    { method: 'GET', path: '/volume/', policy: PUBLIC, handler: all, doc: doc('List Block Storage API versions', 300) },
    { method: 'GET', path: '/volume/v3', policy: PUBLIC, handler: one, doc: doc('Show Block Storage API v3', 200) },
    { method: 'GET', path: '/volume/v3/', policy: PUBLIC, handler: one, doc: doc('Show Block Storage API v3', 200) },
  ];
}
