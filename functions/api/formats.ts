import { isIP } from 'node:net';

// The string formats of Nova's request schemas (its FormatChecker: ipv4, ipv6, uuid, base64), in
// a module of their own: scripts/compile-schemas.ts gives them to ajv when it compiles the
// validators, and the generated validators import them from here (ajv standalone's
// `code.formats`), so what was compiled and what runs are the same definitions.

export const ipv4 = (s: string) => isIP(s) === 4;
export const ipv6 = (s: string) => isIP(s) === 6;
export const uuid = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
/** Python's base64.decodebytes: whitespace ignored, padding must be right. */
export const base64 = (s: string) => {
  const t = s.replace(/\s+/g, '');
  return t.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(t);
};
