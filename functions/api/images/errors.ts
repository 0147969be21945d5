import type { ApiResult } from '../http.js';

// Glance's errors are webob's HTTP exceptions, whose body follows the client's Accept header
// (webob.exc.WSGIHTTPException.generate_response): JSON (`{"message","code","title"}`) for a
// client that asks for JSON, an HTML page for one that takes anything (python-glanceclient
// sends no Accept, and parses only a JSON body whose values are objects), plain text otherwise.

const OFFERS = ['text/html', 'application/json'] as const;

interface Range { readonly type: string; readonly subtype: string; readonly q: number }

function ranges(accept: string): Range[] {
  return accept.split(',').flatMap((part) => {
    const [media = '', ...params] = part.trim().split(';');
    const [type, subtype] = media.trim().toLowerCase().split('/');
    if (!type || !subtype) return [];
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return [{ type, subtype, q: q ? Number(q.slice(2)) || 0 : 1 }];
  });
}

/** The offer webob answers with: the best quality the most specific matching range gives it, ties in offer order. */
function negotiate(accept: string | undefined): (typeof OFFERS)[number] | undefined {
  const given = accept?.trim() ? ranges(accept) : [];
  if (given.length === 0) return OFFERS[0];
  let best: { offer: (typeof OFFERS)[number]; q: number } | undefined;
  for (const offer of OFFERS) {
    const [type, subtype] = offer.split('/') as [string, string];
    const match = given.find((r) => r.type === type && r.subtype === subtype)
      ?? given.find((r) => r.type === type && r.subtype === '*')
      ?? given.find((r) => r.type === '*' && r.subtype === '*');
    if (match && match.q > 0 && (!best || match.q > best.q)) best = { offer, q: match.q };
  }
  return best?.offer;
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A Glance error (its JSON body, serviceFault's) as webob writes it for this Accept header. */
export function inAcceptedFormat(asJson: ApiResult, accept: string | undefined): ApiResult {
  const offer = negotiate(accept);
  if (offer === 'application/json') return asJson;
  const { code: status, message } = JSON.parse(asJson.body) as { code: string; message: string };
  if (offer === 'text/html') {
    return {
      ...asJson, headers: { ...asJson.headers, 'content-type': 'text/html; charset=UTF-8' },
      body: `<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n  ${escapeHtml(message)}<br /><br />\n\n\n\n </body>\n</html>`,
    };
  }
  return { ...asJson, headers: { ...asJson.headers, 'content-type': 'text/plain; charset=UTF-8' }, body: `${status}\n\n${message}\n\n\n` };
}
