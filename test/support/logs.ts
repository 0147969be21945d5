import { jest } from '@jest/globals';
import { logger } from '../../functions/observability/index.js';

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

/**
 * Takes what the functions log (Powertools Logger) instead of printing it, for a test that
 * expects those lines and asserts them. `restore()` puts the logger back.
 */
export function captureLogs(): { entries: LogEntry[]; restore(): void } {
  const entries: LogEntry[] = [];
  const spies = (['info', 'warn', 'error'] as const).map((level) =>
    jest.spyOn(logger, level).mockImplementation(((message: unknown, ...extra: unknown[]) => {
      entries.push({ level, message: String(message), attributes: Object.assign({}, ...extra.filter((e) => typeof e === 'object')) });
    }) as never));
  return { entries, restore: () => spies.forEach((s) => s.mockRestore()) };
}

/** The captured entries as text, one line each, an Error attribute as its name and message. */
export function logText(entries: readonly LogEntry[]): string {
  const plain = (_key: string, value: unknown) => (value instanceof Error ? `${value.name}: ${value.message}` : value);
  return entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.attributes, plain)}`).join('\n');
}
