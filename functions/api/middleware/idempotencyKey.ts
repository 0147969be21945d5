import type { MiddlewareObj, Request } from '@middy/core';
import { BadRequest, Conflict, DomainError } from '../../core/shared/errors.js';
import { fingerprintOf, type IdempotencyScope, type IdempotencyStore } from '../../core/shared/idempotency.js';
import { HttpFault, type ApiContext, type ApiEvent, type ApiResult } from '../http.js';

type ApiRequest = Request<ApiEvent, ApiResult, Error, ApiContext>;
type ApiMiddleware = MiddlewareObj<ApiEvent, ApiResult, Error, ApiContext>;

/** The answer kept for a key: the whole response as the client got it, request id included. */
export type StoredAnswer = Pick<ApiResult, 'statusCode' | 'body'> & { headers: Record<string, string> };

const MAX_KEY_LENGTH = 255;
/** The draft's value is a structured-field String ("..."); a bare token is accepted too. */
const KEY = /^"?([\x20-\x21\x23-\x7e]{1,255})"?$/;

/** Answers a retry could get differently later: not kept, the key is given back (Stripe does the same). */
const isTransient = (status: number) => status === 409 || status === 429 || status >= 500;

/**
 * The Idempotency-Key layer, as two middlewares around the API's stack:
 * - `guard` (after the caller is known) takes the key, or answers a retry with the stored
 *   answer, 409 while the first request still runs, 422 when the key was used for another
 *   payload. Requests without the header, and GETs, pass untouched: no read, no write.
 * - `capture` (outermost, so it sees the response with every header on it) stores the answer
 *   of the request that took the key, or gives the key back when the answer was transient.
 */
export function idempotencyKey(store: IdempotencyStore<StoredAnswer>, now: () => number = Date.now): {
  capture: ApiMiddleware; guard: ApiMiddleware;
} {
  const taken = new WeakMap<ApiRequest, { scope: IdempotencyScope; owner: string }>();

  const finish = async (request: ApiRequest) => {
    const held = taken.get(request);
    if (!held) return;
    taken.delete(request);
    const response = request.response;
    if (!response || isTransient(response.statusCode)) {
      // A request that could not undo a write of its own keeps the key in progress: the retry
      // after the window goes on as this request and finds what it left.
      if (request.error instanceof DomainError && request.error.mayHaveChanged) return;
      await store.release(held.scope, held.owner);
      return;
    }
    const answer: StoredAnswer = {
      statusCode: response.statusCode, body: response.body,
      headers: Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k, String(v)])),
    };
    await store.complete(held.scope, { owner: held.owner, answer, now: now() });
  };

  const guard: ApiMiddleware = {
    before: async (request) => {
      const { event, context } = request;
      if (event.httpMethod !== 'POST' && event.httpMethod !== 'DELETE') return undefined;
      const raw = event.headers?.['idempotency-key'];
      if (raw === undefined || !context.caller) return undefined;
      const match = KEY.exec(raw.trim());
      if (!match || raw.length > MAX_KEY_LENGTH + 2) {
        throw new BadRequest(`Invalid Idempotency-Key: a string of 1 to ${MAX_KEY_LENGTH} printable characters is expected`);
      }
      const scope: IdempotencyScope = { projectId: context.caller.projectId, userId: context.caller.userId, key: match[1]! };
      const fingerprint = fingerprintOf([event.httpMethod, event.path, parsedBody(event.body)]);
      const owner = context.requestId;
      const found = await store.acquire(scope, { fingerprint, owner, requestId: owner, now: now() });
      switch (found.kind) {
        case 'acquired':
          taken.set(request, { scope, owner });
          // A retry of a request that died holding the key goes on as that request (its id on
          // the answer too), so admission finds what it already did instead of doing it again.
          context.requestId = found.requestId;
          context.resumed = found.resumed;
          return undefined;
        case 'replay':
          return { ...found.answer, headers: { ...found.answer.headers } };
        case 'inProgress':
          throw new Conflict('A request with this Idempotency-Key is still being processed; retry later');
        case 'mismatch':
          throw new HttpFault('computeFault', 422, 'This Idempotency-Key was already used for a different request');
      }
    },
  };
  return { capture: { after: finish, onError: finish }, guard };
}

function parsedBody(body: unknown): unknown {
  if (typeof body !== 'string') return body ?? null;
  try { return JSON.parse(body); } catch { return body; }
}
