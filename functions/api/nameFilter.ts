import type { RE2JS } from 're2js';
import { BadRequest } from '../core/shared/errors.js';
import { onFirstUse } from '../core/shared/onFirstUse.js';
import { excerpt } from './excerpt.js';

// Nova filters servers by name with a regular expression (a database REGEXP). In-process, a
// backtracking engine would let one pathological pattern (`(a*)*$` on a long name) block the
// whole process; RE2JS matches in time linear in the name, and refuses what it cannot do so
// (back-references, look-around) as a syntax error: Nova's 400. RE2JS is 147 KiB of the API's
// bundle, which only a list filtered by name or address needs: it loads then (a chunk of its
// own), not at every cold start.

const re2js = onFirstUse(async () => (await import('re2js')).RE2JS);

/** Nova's limit on a server name; a longer pattern cannot be meant for one. */
export const MAX_NAME_PATTERN_LENGTH = 255;

async function compiled(param: string, pattern: string): Promise<RE2JS> {
  if (pattern.length > MAX_NAME_PATTERN_LENGTH) {
    throw new BadRequest(`Invalid input for query parameters ${param}. Value: ${excerpt(pattern)}. `
      + `Longer than ${MAX_NAME_PATTERN_LENGTH} characters`);
  }
  const Engine = await re2js();
  try {
    return Engine.compile(pattern);
  } catch {
    throw new BadRequest(`Invalid input for query parameters ${param}. Value: ${excerpt(pattern)}. Not a valid regular expression`);
  }
}

/** Nova's name filter: the pattern found anywhere in the name (a database REGEXP). */
export async function nameFilter(pattern: string): Promise<(name: string) => boolean> {
  const re = await compiled('name', pattern);
  return (name) => re.matcher(name).find();
}

/**
 * Nova's `ip` and `ip6` filters (compute/api.py `_ip_filter`): Python's `re.match` of the pattern
 * against each fixed address of the server, so anchored at the address's start.
 */
export async function addressFilter(param: 'ip' | 'ip6', pattern: string): Promise<(addresses: readonly string[]) => boolean> {
  const re = await compiled(param, pattern);
  return (addresses) => addresses.some((a) => re.matcher(a).lookingAt());
}
