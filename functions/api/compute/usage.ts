import type { AdmissionDeps } from '../../core/compute/admission.js';
import { tenantUsages, type ServerUsage } from '../../core/compute/tenantUsage.js';
import { BadRequest, Forbidden } from '../../core/shared/errors.js';
import { refusal } from '../../core/shared/policy.js';
import { isAtLeast } from '../apiVersion.js';
import { json, pathParam, type ApiContext, type ApiEvent } from '../http.js';
import type { RouteHandler } from '../routesOnFirstUse.js';
import { pageLimit } from '../listQuery.js';
import { COMPUTE_HOST } from '../views.js';

// os-simple-tenant-usage (simple_tenant_usage.py: index for administrators, show for a project's
// readers) and os-instance_usage_audit_log (instance_usage_audit_log.py: administrators').

/** Nova's _parse_datetime: these three spellings, read as UTC; none at all is now. */
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?| (\d{2}):(\d{2}):(\d{2})\.(\d{1,6}))$/;

function parseDatetime(text: string | undefined, now: number): number {
  if (!text) return now;
  const m = DATETIME.exec(text);
  const parts = m && [m[1], m[2], m[3], m[4] ?? m[8], m[5] ?? m[9], m[6] ?? m[10], m[7] ?? m[11]];
  const ms = parts && Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2]), Number(parts[3]), Number(parts[4]), Number(parts[5]),
    Math.floor(Number(`0.${parts[6] ?? '0'}`) * 1000));
  // Date.UTC rolls an impossible date over (Feb 30 is Mar 2): Python's strptime refuses it.
  if (!ms || Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(parts![2])) {
    throw new BadRequest('Invalid datetime string: Datetime is in invalid format');
  }
  return ms;
}

/** start, end (capped at now), detailed; Nova's 400 when the start is not before the end. */
function period(event: ApiEvent, now: number) {
  const q = event.queryStringParameters ?? {};
  const start = parseDatetime(q.start, now);
  // Nova reads utcnow once for each missing bound, the end after the start: with neither given the
  // period is an instant long, not a 400 (taskgate's clock is in milliseconds: the end one later).
  const stop = parseDatetime(q.end, now + 1);
  if (!(start < stop)) throw new BadRequest('Invalid start time. The start time cannot occur after the end time.');
  return { period: { start, stop: Math.min(stop, now) }, detailed: q.detailed === '1', q };
}

/** From 2.40 the servers are paged (limit, marker) and the next page linked. */
function paging(ctx: ApiContext, q: Record<string, string | undefined>) {
  if (!isAtLeast(ctx.apiVersion, '2.40')) return { limit: 1000 };
  return { limit: pageLimit(q.limit), ...(q.marker ? { marker: q.marker } : {}) };
}

function nextLink(ctx: ApiContext, path: string, q: Record<string, string | undefined>, servers: ServerUsage[], limit: number) {
  if (!isAtLeast(ctx.apiVersion, '2.40') || servers.length === 0 || servers.length < limit) return undefined;
  const params = new URLSearchParams({ ...(q as Record<string, string>), marker: servers.at(-1)!.instance_id });
  return [{ rel: 'next', href: `${ctx.baseUrl}/v2.1/${path}?${params}` }];
}

/** nova/utils.py last_completed_audit_period (the default, monthly): the last whole month before `before`. */
function lastAuditPeriod(before: number): { begin: string; end: string } {
  const d = new Date(before);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const begin = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  const text = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  return { begin: text(begin), end: text(end) };
}

/**
 * Nova's audit-log summary. taskgate runs no instance usage audit task (Nova's
 * [DEFAULT]instance_usage_audit is off by default too): no host has a task log, so every host is
 * "not run".
 */
function auditLog(before: number) {
  const { begin, end } = lastAuditPeriod(before);
  const hosts = [COMPUTE_HOST];
  return {
    period_beginning: begin, period_ending: end, num_hosts: hosts.length, num_hosts_done: 0, num_hosts_running: 0,
    num_hosts_not_run: hosts.length, hosts_not_run: hosts, total_instances: 0, total_errors: 0,
    overall_status: `0 of ${hosts.length} hosts done. 0 errors.`, log: {},
  };
}

/** The audit log's {before_timestamp}: "%Y-%m-%d %H:%M:%S", with ".%f" when it has a dot. */
function beforeDate(id: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(id);
  const ms = m && Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (!m || !ms || (id.includes('.') && !m[7])) throw new BadRequest(`Invalid timestamp for date ${id}`);
  return ms;
}

/** The handlers of usageRoutes.ts's declarations, loaded on first use. */
export function usageHandlers(deps: AdmissionDeps): RouteHandler[] {
  const now = () => (deps.now ?? Date.now)();
  return [
    {
      method: 'GET', path: '/v2.1/os-simple-tenant-usage',
      handler: async (event, ctx) => {
        const at = now();
        const { period: p, detailed, q } = period(event, at);
        const page = paging(ctx, q);
        const { usages, servers } = await tenantUsages(deps.table, ctx.caller, { period: p, now: at, detailed, ...page });
        const links = nextLink(ctx, 'os-simple-tenant-usage', q, servers, page.limit);
        return json(200, { tenant_usages: usages, ...(links ? { tenant_usages_links: links } : {}) });
      },
    },
    {
      method: 'GET', path: '/v2.1/os-simple-tenant-usage/{project_id}',
      handler: async (event, ctx) => {
        const projectId = pathParam(event, 'project_id');
        // The rule's target is the project asked about: a reader sees its own project's only.
        if (!ctx.caller.isAdmin && projectId !== ctx.caller.projectId) throw new Forbidden(refusal('os_compute_api:os-simple-tenant-usage:show'));
        const at = now();
        const { period: p, q } = period(event, at);
        const page = paging(ctx, q);
        const { usages, servers } = await tenantUsages(deps.table, ctx.caller, { period: p, now: at, detailed: true, projectId, ...page });
        const links = nextLink(ctx, `os-simple-tenant-usage/${projectId}`, q, servers, page.limit);
        return json(200, { tenant_usage: usages[0] ?? {}, ...(links ? { tenant_usage_links: links } : {}) });
      },
    },
    {
      method: 'GET', path: '/v2.1/os-instance_usage_audit_log',
      handler: async () => json(200, { instance_usage_audit_logs: auditLog(now()) }),
    },
    {
      method: 'GET', path: '/v2.1/os-instance_usage_audit_log/{before_timestamp}',
      handler: async (event) => json(200, { instance_usage_audit_log: auditLog(beforeDate(pathParam(event, 'before_timestamp'))) }),
    },
  ];
}

