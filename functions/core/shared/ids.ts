import { createHash } from 'node:crypto';

// Ids as keys. Nova and Cinder take a UUID in any case and with or without its hyphens; a key
// built from each spelling would make one volume look like three. Every UUID is put in one
// spelling (lower case, hyphenated) before a key is built from it.

const UUID_ANY_SPELLING = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i;

export const isUuid = (value: string): boolean => UUID_ANY_SPELLING.test(value);

/** The canonical spelling of a UUID; anything else unchanged. */
export function canonicalUuid(value: string): string {
  const m = UUID_ANY_SPELLING.exec(value);
  return m ? m.slice(1, 6).join('-').toLowerCase() : value;
}

/**
 * A UUID that is a function of its parts (SHA-256, shaped as an RFC 9562 version 8 UUID): the
 * same request always names the same new resource, so a retry of it lands on the item the first
 * attempt made and its conditional write finds it, whatever crashed between the two.
 */
export function derivedUuid(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\0')).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
