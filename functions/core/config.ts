// taskgate's configuration: every setting the handlers, the local runtime and the CDK stack read,
// parsed and validated here and nowhere else. A bad value stops the process at start with a line
// naming the variable, instead of a NaN deep inside a lease computation.

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads one variable at a time; each reader validates its value and names the variable on error. */
export class EnvReader {
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? fallback : raw;
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined) throw new ConfigError(`${name} is not set`);
    return value;
  }

  integer(name: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = bounds;
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw.slice(0, 40))}`);
    }
    return value;
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) {
      throw new ConfigError(`${name} must be one of ${choices.join(', ')}, not ${JSON.stringify(raw.slice(0, 40))}`);
    }
    return raw as T;
  }
}

/** Idempotency-Key records (functions/core/idempotency.ts). */
export interface IdempotencySettings {
  /** How long a finished answer is replayed to a retry with the same key. */
  readonly ttlSeconds: number;
  /**
   * How long a key stays "in progress" (409 to a retry) when the request that took it never
   * finished (the API Lambda died): past the API's 29 s integration timeout, then a retry runs.
   */
  readonly inProgressSeconds: number;
}

export function idempotencySettings(env: Env = process.env): IdempotencySettings {
  const read = new EnvReader(env);
  return {
    ttlSeconds: read.integer('TASKGATE_IDEMPOTENCY_TTL_SECONDS', 24 * 3600, { min: 1, max: 30 * 24 * 3600 }),
    inProgressSeconds: read.integer('TASKGATE_IDEMPOTENCY_IN_PROGRESS_SECONDS', 60, { min: 1, max: 3600 }),
  };
}
