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

/** The compute drivers there are; a real one adds its name here and its construction in drivers.ts. */
export const DRIVERS = ['simulated'] as const;
export type DriverName = (typeof DRIVERS)[number];

export interface DriverSettings {
  readonly driver: DriverName;
  /** The simulated driver: how long each step takes. */
  readonly stepMs: number;
}

/** TASKGATE_DRIVER (which driver the compute function runs) and its own settings. */
export function driverSettings(env: Env): DriverSettings {
  const read = new EnvReader(env);
  return {
    driver: read.oneOf('TASKGATE_DRIVER', DRIVERS, 'simulated'),
    stepMs: read.integer('TASKGATE_DRIVER_STEP_MS', 300, { min: 0, max: 60_000 }),
  };
}
