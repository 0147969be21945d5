/** How much of a client's value an error message repeats: enough to recognise it, never all of it. */
export const EXCERPT_LENGTH = 64;

/** A client-supplied value as an error message may show it: JSON-quoted when a string, cut short. */
export function excerpt(value: unknown): string {
  let text: string;
  try { text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value); } catch { text = String(value); }
  return text.length > EXCERPT_LENGTH ? `${text.slice(0, EXCERPT_LENGTH)}...` : text;
}
