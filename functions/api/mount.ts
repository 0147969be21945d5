import type { ApiEvent } from './http.js';
import { SERVICE_PATH } from './services.js';

// Where the API is mounted: the path the router matches, and the base URL every link starts
// with. Links are built from configuration or from what API Gateway itself says (its domain,
// the stage or base path the request came in on), never from the client's Host or
// X-Forwarded-Proto: those are the client's to write (`javascript://evil.example`).
//
// What API Gateway (REST, proxy integration) hands over:
// - on its own domain: path `/v2.1/servers`, requestContext.path `/<stage>/v2.1/servers`;
// - on a custom domain with base path `tiler`: path and requestContext.path both
//   `/tiler/v2.1/servers` (the base path is not stripped);
// - the root resource (`/`, version discovery) has resource `/` whatever the mount.

/** The logical API path: `/`, `/v2.1...` or another service's (services.ts), with any custom-domain base path taken off. */
export function routedPath(event: ApiEvent, configuredBasePath = ''): string {
  const path = event.path || '/';
  if (event.resource === '/') return '/';
  if (path === '/' || SERVICE_PATH.test(path)) return path;
  if (configuredBasePath && (path === configuredBasePath || path.startsWith(`${configuredBasePath}/`))) {
    return path.slice(configuredBasePath.length) || '/';
  }
  // A custom domain's base path: API Gateway passes it in both paths; on its own domain the
  // requestContext path carries the stage in front instead, and nothing is taken off.
  if (event.requestContext?.path === path) {
    const at = path.search(/\/(v2\.1|image|volume|network)(\/|$)/);
    if (at > 0 && SAFE_PATH.test(path.slice(0, at))) return path.slice(at);
  }
  return path;
}

/** Path segments a base path may have: unreserved characters only. */
const SAFE_PATH = /^(\/[A-Za-z0-9._~-]+)*$/;
const SAFE_DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:.]+\](?::[0-9]{1,5})?$/;
const SAFE_WORD = /^[A-Za-z0-9_-]{1,128}$/;

export interface LinkSettings {
  /**
   * The public base URL (TASKGATE_PUBLIC_URL), e.g. `https://compute.example.com/tiler`;
   * `{domainName}`, `{apiId}` and `{stage}` are filled from API Gateway's request context
   * (LocalStack: `http://localhost:4566/restapis/{apiId}/{stage}/_user_request_`).
   */
  readonly publicUrl?: string;
  /** The region, for API Gateway's own domain when the request context names none. */
  readonly region?: string;
}

/** The base URL links start with (no trailing slash): configured, else API Gateway's own. */
export function baseUrl(event: ApiEvent, routed: string, settings: LinkSettings): string {
  const rc = event.requestContext ?? ({} as ApiEvent['requestContext']);
  const stage = rc.stage && SAFE_WORD.test(rc.stage) ? rc.stage : '';
  const apiId = rc.apiId && SAFE_WORD.test(rc.apiId) ? rc.apiId : '';
  const region = settings.region && SAFE_WORD.test(settings.region) ? settings.region : 'us-east-1';
  const domain = rc.domainName && SAFE_DOMAIN.test(rc.domainName)
    ? rc.domainName
    : `${apiId || 'localhost'}.execute-api.${region}.amazonaws.com`;
  if (settings.publicUrl) {
    return settings.publicUrl
      .replaceAll('{domainName}', domain).replaceAll('{apiId}', apiId).replaceAll('{stage}', stage)
      .replace(/\/+$/, '');
  }
  // The mount: what the request's full path has in front of the routed path (the stage on
  // API Gateway's domain, the base path on a custom domain).
  const full = (rc.path ?? event.path ?? '').replace(/\/+$/, '');
  const tail = routed.replace(/\/+$/, '');
  let mount = full.endsWith(tail) ? full.slice(0, full.length - tail.length) : '';
  if (!SAFE_PATH.test(mount)) mount = stage && stage !== '$default' ? `/${stage}` : '';
  return `https://${domain}${mount}`;
}

/** The path part of a configured public URL: the base path requests arrive under. */
export function basePathOf(publicUrl: string | undefined): string {
  if (!publicUrl) return '';
  const path = new URL(publicUrl.replace(/\{\w+\}/g, 'x')).pathname.replace(/\/+$/, '');
  return publicUrl.includes('{') ? '' : path;
}
