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

/** Where clients reach the API: the base of every link in its answers (see functions/api/mount.ts). */
export interface PublicUrlSettings {
  readonly publicUrl?: string;
  readonly region?: string;
}

/**
 * TASKGATE_PUBLIC_URL: an http(s) URL with no query or fragment, optionally with `{domainName}`,
 * `{apiId}` and `{stage}` placeholders. Unset on AWS: links use API Gateway's own domain and stage.
 */
export function publicUrlSettings(env: EnvReader): PublicUrlSettings {
  const publicUrl = env.string('TASKGATE_PUBLIC_URL');
  if (publicUrl !== undefined) {
    let parsed: URL | undefined;
    try { parsed = new URL(publicUrl.replace(/\{(domainName|apiId|stage)\}/g, 'x')); } catch { parsed = undefined; }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.search || parsed.hash
      || /[{}]/.test(publicUrl.replace(/\{(domainName|apiId|stage)\}/g, ''))) {
      throw new ConfigError(`TASKGATE_PUBLIC_URL must be an http(s) URL without query or fragment, not ${JSON.stringify(publicUrl.slice(0, 80))}`);
    }
  }
  return { publicUrl, region: env.string('AWS_REGION') };
}
