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
