import type { AdmissionDeps } from '../../core/compute/admission.js';
import { BadRequest, Forbidden } from '../../core/shared/errors.js';
import { createKeyPair, deleteKeyPair, getKeyPair, listKeyPairs, type KeyPair } from '../../core/compute/keypairs.js';
import { isAtLeast, type ApiVersion } from '../apiVersion.js';
import { empty, json, pathParam, type ApiContext, type ApiEvent, type ApiRoute } from '../http.js';
import { checkBody, createKeypairSchema } from '../serverSchemas.js';
import { dbDatetime } from '../timestamps.js';

// os-keypairs (keypairs.py) as its microversions change it: 2.2 a key type and 201/204,
// 2.10 administrators act on any user's key pairs (user_id), 2.35 paging (limit, marker),
// 2.92 no more generated keys and a wider name alphabet.

/** Nova's keypair name rule: before 2.92 letters, digits, '_', '-' and spaces; then '@' and '.' too. */
function checkName(name: string, v: ApiVersion) {
  const safe = isAtLeast(v, '2.92') ? /^[A-Za-z0-9 _.@-]+$/ : /^[A-Za-z0-9 _-]+$/;
  if (!safe.test(name) || name.trim() !== name) throw new BadRequest('Keypair data is invalid: Keypair name contains unsafe characters');
}

/** The user whose key pairs a request reads: the caller's own, or (admins, 2.10) the one named. */
function ownerOf(ctx: ApiContext, asked: string | undefined): string {
  if (asked === undefined || !isAtLeast(ctx.apiVersion, '2.10')) return ctx.caller.userId;
  if (asked !== ctx.caller.userId && !ctx.caller.isAdmin) {
    throw new Forbidden('Policy doesn\'t allow os_compute_api:os-keypairs to be performed.');
  }
  return asked;
}

function keypairView(k: KeyPair, v: ApiVersion, detail: boolean) {
  const typed = isAtLeast(v, '2.2') ? { type: k.type } : {};
  if (!detail) return { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, ...typed };
  return {
    name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, user_id: k.userId, ...typed,
    created_at: dbDatetime(k.created), deleted: false, deleted_at: null, updated_at: null, id: k.id,
  };
}

const query = (event: ApiEvent) => event.queryStringParameters ?? {};

export function keypairRoutes(deps: AdmissionDeps): ApiRoute[] {
  return [
    {
      method: 'POST', path: '/v2.1/os-keypairs', policy: 'os_compute_api:os-keypairs:create', body: createKeypairSchema({ major: 2, minor: 2 }),
      doc: { summary: 'Create or import a key pair', success: [200, 201] },
      handler: async (event, ctx) => {
        const v = ctx.apiVersion;
        const { keypair } = checkBody<{ keypair: { name: string; public_key?: string; type?: 'ssh' | 'x509'; user_id?: string } }>(
          'createKeypair', v, event.body,
        );
        checkName(keypair.name, v);
        const userId = ownerOf(ctx, keypair.user_id);
        const { keypair: made, privateKey } = await createKeyPair(deps.table, {
          userId, name: keypair.name, type: keypair.type ?? 'ssh', publicKey: keypair.public_key,
        });
        return json(isAtLeast(v, '2.2') ? 201 : 200, {
          keypair: { ...keypairView(made, v, false), user_id: made.userId, ...(privateKey ? { private_key: privateKey } : {}) },
        });
      },
    },
    {
      method: 'GET', path: '/v2.1/os-keypairs', policy: 'os_compute_api:os-keypairs:index',
      doc: { summary: 'List key pairs', success: [200], query: ['user_id', 'limit', 'marker'] },
      handler: async (event, ctx) => {
        const v = ctx.apiVersion;
        const q = query(event);
        const userId = ownerOf(ctx, q.user_id);
        const paged = isAtLeast(v, '2.35');
        let all = await listKeyPairs(deps.table, userId);
        if (paged && q.marker !== undefined) {
          const at = all.findIndex((k) => k.name === q.marker);
          if (at < 0) throw new BadRequest(`marker [${q.marker}] not found`);
          all = all.slice(at + 1);
        }
        let limit = all.length;
        if (paged && q.limit !== undefined) {
          if (!/^\d+$/.test(q.limit)) throw new BadRequest('limit param must be an integer');
          limit = Number(q.limit);
        }
        const shown = all.slice(0, limit);
        const next = paged && shown.length > 0 && shown.length === limit && all.length > limit ? shown.at(-1)!.name : undefined;
        return json(200, {
          keypairs: shown.map((k) => ({ keypair: keypairView(k, v, false) })),
          ...(next ? {
            keypairs_links: [{
              rel: 'next',
              href: `${ctx.baseUrl}/v2.1/os-keypairs?${new URLSearchParams({ ...(q as Record<string, string>), marker: next })}`,
            }],
          } : {}),
        });
      },
    },
    {
      method: 'GET', path: '/v2.1/os-keypairs/{keypair_name}', policy: 'os_compute_api:os-keypairs:show',
      doc: { summary: 'Show a key pair', success: [200], query: ['user_id'] },
      handler: async (event, ctx) => {
        const k = await getKeyPair(deps.table, ownerOf(ctx, query(event).user_id), pathParam(event, 'keypair_name'));
        return json(200, { keypair: keypairView(k, ctx.apiVersion, true) });
      },
    },
    {
      method: 'DELETE', path: '/v2.1/os-keypairs/{keypair_name}', policy: 'os_compute_api:os-keypairs:delete',
      doc: { summary: 'Delete a key pair', success: [202, 204], query: ['user_id'] },
      handler: async (event, ctx) => {
        await deleteKeyPair(deps.table, ownerOf(ctx, query(event).user_id), pathParam(event, 'keypair_name'));
        return empty(isAtLeast(ctx.apiVersion, '2.2') ? 204 : 202);
      },
    },
  ];
}
