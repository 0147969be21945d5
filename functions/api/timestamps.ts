// Nova writes times two ways, and clients parse them as written, so taskgate's ISO strings are
// re-spelled per field (the domain keeps full ISO 8601 with milliseconds and Z).

/** `utils.isotime`: server created/updated, fault created: `2026-11-25T02:33:54Z`. */
export function isotime(iso: string): string {
  return `${iso.slice(0, 19)}Z`;
}

/** A datetime as oslo's JSON serialiser writes it: launched_at, instance actions and events:
 *  `2026-11-25T02:33:54.123000` (microseconds, no zone; Nova's database times are UTC). */
export function dbDatetime(iso: string): string;
export function dbDatetime(iso: string | undefined | null): string | null;
export function dbDatetime(iso: string | undefined | null): string | null {
  if (!iso) return null;
  const millis = /\.(\d{1,3})/.exec(iso)?.[1] ?? '';
  return `${iso.slice(0, 19)}.${millis.padEnd(6, '0')}`;
}
