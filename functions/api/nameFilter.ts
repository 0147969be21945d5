import { RE2JS } from 're2js';
import { BadRequest } from '../core/shared/errors.js';
import { excerpt } from './excerpt.js';

// Nova filters servers by name with a regular expression (a database REGEXP). In-process, a
// backtracking engine would let one pathological pattern (`(a*)*$` on a long name) block the
// whole process; RE2JS matches in time linear in the name, and refuses what it cannot do so
// (back-references, look-around) as a syntax error: Nova's 400.

/** Nova's limit on a server name; a longer pattern cannot be meant for one. */
export const MAX_NAME_PATTERN_LENGTH = 255;

export function nameFilter(pattern: string): (name: string) => boolean {
  if (pattern.length > MAX_NAME_PATTERN_LENGTH) {
    throw new BadRequest(`Invalid input for query parameters name. Value: ${excerpt(pattern)}. `
      + `Longer than ${MAX_NAME_PATTERN_LENGTH} characters`);
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch {
    throw new BadRequest(`Invalid input for query parameters name. Value: ${excerpt(pattern)}. Not a valid regular expression`);
  }
  return (name) => compiled.matcher(name).find();
}
