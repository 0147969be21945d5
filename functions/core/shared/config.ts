// taskgate's configuration: every setting the handlers, the local runtime and the CDK stack read,
// parsed and validated here and nowhere else. A bad value stops the process at start with a line
// naming the variable, instead of a NaN deep inside a lease computation.

import { MAX_SPREAD, type ProjectSpread, type ProjectSpreads } from './projectSpread.js';

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
export const DRIVERS = ['simulated', 'ec2'] as const;
export type DriverName = (typeof DRIVERS)[number];

export interface DriverSettings {
  readonly driver: DriverName;
  /** The simulated driver: how long each step takes. */
  readonly stepMs: number;
  /** The EC2 driver's settings: present exactly when `driver` is ec2. */
  readonly ec2?: Ec2Settings;
}

/**
 * Where the EC2 driver launches instances and how taskgate's records name EC2's: flavors are
 * instance types, images AMIs, volumes EBS volumes and ports ENIs. The image, volume and network
 * services keep no EC2 ids of their own yet, so the mapping is configuration, checked here.
 */
export interface Ec2Settings {
  /** An EC2-compatible endpoint instead of the region's own (a VPC endpoint, or a test double over HTTP). */
  readonly endpoint?: string;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  readonly instanceProfileArn?: string;
  readonly keyName?: string;
  /** The value of the `taskgate:stack` tag on everything the driver makes: the IAM policy's condition. */
  readonly stackTag: string;
  readonly instanceTypes: Readonly<Record<string, string>>;
  readonly amis: Readonly<Record<string, string>>;
  readonly ebsVolumes: Readonly<Record<string, string>>;
  readonly networkInterfaces: Readonly<Record<string, string>>;
  /** How long a step waits for EC2 before it looks again (the message comes back after it). */
  readonly pollSeconds: number;
  /** How long an operation may wait for EC2 in all before it ends in error. */
  readonly operationTimeoutSeconds: number;
}

/** A JSON object of strings, each value matching `pattern` (what EC2 calls such an id). */
function idMap(read: EnvReader, name: string, pattern: RegExp, what: string): Record<string, string> {
  const raw = read.string(name);
  if (raw === undefined) return {};
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${name} must be a JSON object mapping taskgate ids to ${what}s`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' || !pattern.test(value)) {
      throw new ConfigError(`${name}: ${JSON.stringify(key.slice(0, 40))} must map to ${what}, not ${JSON.stringify(String(value).slice(0, 40))}`);
    }
  }
  return parsed as Record<string, string>;
}

function matching(name: string, value: string | undefined, pattern: RegExp, what: string): string | undefined {
  if (value !== undefined && !pattern.test(value)) throw new ConfigError(`${name} must be ${what}, not ${JSON.stringify(value.slice(0, 60))}`);
  return value;
}

export function ec2Settings(env: Env): Ec2Settings {
  const read = new EnvReader(env);
  const endpoint = read.string('TASKGATE_EC2_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(endpoint)) {
    throw new ConfigError(`TASKGATE_EC2_ENDPOINT must be an http(s) URL, not ${JSON.stringify(endpoint.slice(0, 60))}`);
  }
  const subnetId = matching('TASKGATE_EC2_SUBNET_ID', read.required('TASKGATE_EC2_SUBNET_ID'), /^subnet-[0-9a-f]{8,17}$/, 'a subnet id (subnet-...)')!;
  const securityGroupIds = read.required('TASKGATE_EC2_SECURITY_GROUP_IDS').split(',').map((g) => g.trim());
  for (const g of securityGroupIds) matching('TASKGATE_EC2_SECURITY_GROUP_IDS', g, /^sg-[0-9a-f]{8,17}$/, 'a comma-separated list of security group ids (sg-...)');
  const instanceTypes = idMap(read, 'TASKGATE_EC2_INSTANCE_TYPES', /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'an instance type (e.g. t3.micro)');
  const amis = idMap(read, 'TASKGATE_EC2_AMIS', /^ami-[0-9a-f]{8,17}$/, 'an AMI id (ami-...)');
  if (Object.keys(instanceTypes).length === 0) throw new ConfigError('TASKGATE_EC2_INSTANCE_TYPES is not set: map each flavor id to an instance type');
  if (Object.keys(amis).length === 0) throw new ConfigError('TASKGATE_EC2_AMIS is not set: map each image id to an AMI');
  // A step that waits on EC2 hides its message until the receive before the one that would
  // dead-letter it, then sends a fresh copy (resumption.ts): under 3 receives there is no room
  // to wait at all, and every wait would be a copy that comes back at once.
  const maxReceiveCount = read.integer('TASKGATE_MAX_RECEIVE_COUNT', DEFAULT_TIMING_INPUTS.maxReceiveCount, { min: 1, max: 1000 });
  if (maxReceiveCount < 3) {
    throw new ConfigError(`TASKGATE_MAX_RECEIVE_COUNT must be 3 or more with TASKGATE_DRIVER=ec2, not ${maxReceiveCount}: `
      + 'a step waiting on EC2 needs receives to spare before the queue dead-letters its message');
  }
  return {
    ...(endpoint !== undefined ? { endpoint } : {}),
    subnetId, securityGroupIds, instanceTypes, amis,
    instanceProfileArn: matching('TASKGATE_EC2_INSTANCE_PROFILE_ARN', read.string('TASKGATE_EC2_INSTANCE_PROFILE_ARN'),
      /^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/[\w+=,.@/-]+$/, 'an instance profile ARN'),
    keyName: read.string('TASKGATE_EC2_KEY_NAME'),
    stackTag: read.string('TASKGATE_EC2_STACK_TAG', 'taskgate'),
    ebsVolumes: idMap(read, 'TASKGATE_EC2_VOLUMES', /^vol-[0-9a-f]{8,17}$/, 'an EBS volume id (vol-...)'),
    networkInterfaces: idMap(read, 'TASKGATE_EC2_NETWORK_INTERFACES', /^eni-[0-9a-f]{8,17}$/, 'a network interface id (eni-...)'),
    pollSeconds: read.integer('TASKGATE_EC2_POLL_SECONDS', 15, { min: 1, max: 900 }),
    operationTimeoutSeconds: read.integer('TASKGATE_EC2_OPERATION_TIMEOUT_SECONDS', 3600, { min: 60, max: 86_400 }),
  };
}

/** TASKGATE_DRIVER: which driver the compute function runs (the API refuses what it cannot do). */
export const driverName = (env: Env): DriverName => new EnvReader(env).oneOf('TASKGATE_DRIVER', DRIVERS, 'simulated');

/** TASKGATE_DRIVER (which driver the compute function runs) and its own settings. */
export function driverSettings(env: Env): DriverSettings {
  const read = new EnvReader(env);
  const driver = driverName(env);
  return {
    driver,
    stepMs: read.integer('TASKGATE_DRIVER_STEP_MS', 300, { min: 0, max: 60_000 }),
    ...(driver === 'ec2' ? { ec2: ec2Settings(env) } : {}),
  };
}

/**
 * Every duration of the operation machinery, and how they must relate. Lambda and SQS decide
 * what happens after a crash: a compute invocation lives at most `computeTimeoutSeconds`; a
 * received message is invisible for `visibilityTimeoutSeconds` and is dead-lettered after
 * `maxReceiveCount` deliveries. The leases follow from them:
 *
 * - the run lease covers one invocation (timeout + margin) and is renewed at each fenced
 *   checkpoint; a redelivery that finds it expired takes the work over (the worker died hard);
 * - the claim lease covers the queue's whole redelivery budget (maxReceiveCount x visibility +
 *   margin), renewed with the run lease, so the dead-letter handler, not the sweeper, ends an
 *   operation whose message kept failing; the sweeper ends only a claim whose message was lost.
 */
export interface Timings {
  /** The API function's timeout: no admission outlives it (under API Gateway's 29 s). */
  readonly apiTimeoutSeconds: number;
  readonly computeTimeoutSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  /** Slack added to each lease for clock skew and the time between a write and its effect. */
  readonly leaseMarginSeconds: number;
  readonly runLeaseSeconds: number;
  readonly claimLeaseSeconds: number;
  /**
   * How long a volume's or port's reservation stands before its instance must show the request's
   * claim (functions/core/shared/attachables.ts): past any API invocation, so a reservation still
   * unclaimed then belongs to a request that died between its two writes.
   */
  readonly reservationLeaseSeconds: number;
  readonly sweepIntervalSeconds: number;
}

export type TimingInputs = Pick<Timings,
  'apiTimeoutSeconds' | 'computeTimeoutSeconds' | 'maxReceiveCount' | 'leaseMarginSeconds' | 'sweepIntervalSeconds'>
  & { readonly visibilityTimeoutSeconds?: number };

/** AWS's guidance for a queue that feeds Lambda: visibility timeout six times the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** API Gateway's REST integration timeout: an API function may not run longer. */
export const API_GATEWAY_TIMEOUT_SECONDS = 29;

export const DEFAULT_TIMING_INPUTS: TimingInputs = {
  apiTimeoutSeconds: 20, computeTimeoutSeconds: 60, maxReceiveCount: 5, leaseMarginSeconds: 30, sweepIntervalSeconds: 60,
};

/** Derives the leases and checks the relations; throws ConfigError naming the one that fails. */
export function timings(inputs: Partial<TimingInputs> = {}): Timings {
  const set = Object.fromEntries(Object.entries(inputs).filter(([, v]) => v !== undefined));
  const given: TimingInputs = { ...DEFAULT_TIMING_INPUTS, ...set };
  const { computeTimeoutSeconds: timeout, maxReceiveCount, leaseMarginSeconds: margin, sweepIntervalSeconds, apiTimeoutSeconds } = given;
  const visibility = given.visibilityTimeoutSeconds ?? VISIBILITY_TIMEOUT_FACTOR * timeout;
  for (const [name, value] of Object.entries({ apiTimeoutSeconds, timeout, visibility, maxReceiveCount, margin, sweepIntervalSeconds })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive whole number of seconds, not ${value}`);
  }
  if (apiTimeoutSeconds > API_GATEWAY_TIMEOUT_SECONDS) {
    throw new ConfigError(`the API timeout (${apiTimeoutSeconds} s) is over API Gateway's ${API_GATEWAY_TIMEOUT_SECONDS} s`);
  }
  if (timeout > 900) throw new ConfigError(`the compute timeout (${timeout} s) is over Lambda's 900 s`);
  if (visibility > 43_200) throw new ConfigError(`the visibility timeout (${visibility} s) is over SQS's 12 hours`);
  if (maxReceiveCount > 1000) throw new ConfigError(`maxReceiveCount (${maxReceiveCount}) is over SQS's 1000`);
  const runLeaseSeconds = timeout + margin;
  // A worker killed at its last moment checkpointed at most `timeout` after the receive, leasing
  // the run until then + runLease; its redelivery comes `visibility` after the receive and must
  // find that lease expired, or it would be told "busy" until the message is dead-lettered.
  if (visibility <= timeout + runLeaseSeconds) {
    throw new ConfigError(`the visibility timeout (${visibility} s) must exceed the compute timeout plus the run lease (${timeout} + ${runLeaseSeconds} s)`);
  }
  return {
    apiTimeoutSeconds, computeTimeoutSeconds: timeout, visibilityTimeoutSeconds: visibility, maxReceiveCount,
    leaseMarginSeconds: margin, runLeaseSeconds,
    claimLeaseSeconds: maxReceiveCount * visibility + margin,
    reservationLeaseSeconds: apiTimeoutSeconds + margin,
    sweepIntervalSeconds,
  };
}

/**
 * TASKGATE_API_TIMEOUT_SECONDS, TASKGATE_COMPUTE_TIMEOUT_SECONDS, TASKGATE_VISIBILITY_TIMEOUT_SECONDS (default six times the
 * timeout), TASKGATE_MAX_RECEIVE_COUNT, TASKGATE_LEASE_MARGIN_SECONDS, TASKGATE_SWEEP_INTERVAL_SECONDS.
 * The stack passes the same variables to every function, so handlers and queue agree.
 */
export function timingsFromEnv(env: Env): Timings {
  const read = new EnvReader(env);
  const d = DEFAULT_TIMING_INPUTS;
  const computeTimeoutSeconds = read.integer('TASKGATE_COMPUTE_TIMEOUT_SECONDS', d.computeTimeoutSeconds, { min: 1, max: 900 });
  return timings({
    apiTimeoutSeconds: read.integer('TASKGATE_API_TIMEOUT_SECONDS', d.apiTimeoutSeconds, { min: 1, max: API_GATEWAY_TIMEOUT_SECONDS }),
    computeTimeoutSeconds,
    visibilityTimeoutSeconds: read.integer('TASKGATE_VISIBILITY_TIMEOUT_SECONDS',
      VISIBILITY_TIMEOUT_FACTOR * computeTimeoutSeconds, { min: 1, max: 43_200 }),
    maxReceiveCount: read.integer('TASKGATE_MAX_RECEIVE_COUNT', d.maxReceiveCount, { min: 1, max: 1000 }),
    leaseMarginSeconds: read.integer('TASKGATE_LEASE_MARGIN_SECONDS', d.leaseMarginSeconds, { min: 1, max: 3600 }),
    sweepIntervalSeconds: read.integer('TASKGATE_SWEEP_INTERVAL_SECONDS', d.sweepIntervalSeconds, { min: 1, max: 3600 }),
  });
}

/** The variables that carry `t` to a function: timingsFromEnv(timingsEnv(t)) gives `t` back. */
export function timingsEnv(t: Timings): Record<string, string> {
  return {
    TASKGATE_API_TIMEOUT_SECONDS: String(t.apiTimeoutSeconds),
    TASKGATE_COMPUTE_TIMEOUT_SECONDS: String(t.computeTimeoutSeconds),
    TASKGATE_VISIBILITY_TIMEOUT_SECONDS: String(t.visibilityTimeoutSeconds),
    TASKGATE_MAX_RECEIVE_COUNT: String(t.maxReceiveCount),
    TASKGATE_LEASE_MARGIN_SECONDS: String(t.leaseMarginSeconds),
    TASKGATE_SWEEP_INTERVAL_SECONDS: String(t.sweepIntervalSeconds),
  };
}

/** The leases the handlers write, in milliseconds. */
export interface Leases {
  readonly runLeaseMs: number;
  readonly claimLeaseMs: number;
  readonly reservationLeaseMs: number;
}

export const leasesOf = (t: Timings): Leases => ({
  runLeaseMs: t.runLeaseSeconds * 1000, claimLeaseMs: t.claimLeaseSeconds * 1000, reservationLeaseMs: t.reservationLeaseSeconds * 1000,
});

/**
 * Where `npm start` keeps its state: TASKGATE_DATA_DIR, default `.data` under the project.
 * TASKGATE_DATA_DIR=memory keeps nothing (fresh in-memory backends each start).
 */
export function localSettingsFromEnv(env: Env, projectRoot: string) {
  const read = new EnvReader(env);
  const dataDir = read.string('TASKGATE_DATA_DIR', `${projectRoot.replace(/\/$/, '')}/.data`);
  return {
    port: read.integer('PORT', 8774, { min: 0, max: 65_535 }),
    host: read.string('HOST', '127.0.0.1'),
    dynamodbEndpoint: read.string('TASKGATE_DYNAMODB_ENDPOINT'),
    dataDir: dataDir === 'memory' ? undefined : dataDir,
  };
}

/** Idempotency-Key records (functions/core/shared/idempotency.ts). */
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
    // Longer than any API invocation can live (API Gateway's integration timeout bounds them all):
    // a retry that takes the key over must find its first request dead, not still admitting.
    inProgressSeconds: read.integer('TASKGATE_IDEMPOTENCY_IN_PROGRESS_SECONDS', 60, { min: API_GATEWAY_TIMEOUT_SECONDS + 1, max: 3600 }),
  };
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

// ---------------------------------------------------------------------------------------------
// Identity: which mode validates X-Auth-Token, and its settings.

export const AUTH_MODES = ['keystone', 'jwt', 'noauth'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export interface KeystoneConfig {
  readonly mode: 'keystone';
  /** Identity v3 base, e.g. https://keystone.example.com/v3 */
  readonly url: string;
  /** Service credentials in the environment (local), or the Secrets Manager secret holding them (AWS). */
  readonly credentials:
    | { readonly from: 'env'; readonly username: string; readonly password: string; readonly projectName: string; readonly userDomainName: string; readonly projectDomainName: string }
    | { readonly from: 'secret'; readonly secretId: string };
  readonly cacheTtlSeconds: number;
  readonly cacheMaxEntries: number;
  readonly timeoutMs: number;
}

export interface JwtConfig {
  readonly mode: 'jwt';
  readonly issuer: string;
  readonly audience: string;
  readonly audienceClaim: 'aud' | 'client_id';
  readonly jwksUrl: string;
  readonly projectClaim: string;
  readonly rolesClaim: string;
  /** Splits a roles claim given as one string (unset: such a claim is one role); an array claim is never split. */
  readonly rolesSeparator?: string;
  readonly userClaim: string;
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
}

export type IdentityConfig = KeystoneConfig | JwtConfig | { readonly mode: 'noauth' };

const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/**
 * TASKGATE_AUTH_MODE is required: there is no silent default. `npm start` asks for noauth by
 * name (bin/local.ts), with a warning.
 */
export function authMode(env: Env): AuthMode {
  const r = new EnvReader(env);
  if (r.string('TASKGATE_AUTH_MODE') === undefined) throw new ConfigError(`TASKGATE_AUTH_MODE is not set: choose ${AUTH_MODES.join(', ')}`);
  return r.oneOf('TASKGATE_AUTH_MODE', AUTH_MODES, 'keystone');
}

export function identityConfig(env: Env): IdentityConfig {
  const r = new EnvReader(env);
  const chosen = authMode(env);
  if (chosen === 'noauth') return { mode: 'noauth' };
  if (chosen === 'keystone') {
    const url = r.required('TASKGATE_KEYSTONE_URL');
    if (!/^https?:\/\/[^\s]+\/v3\/?$/.test(url)) throw new ConfigError('TASKGATE_KEYSTONE_URL must be Keystone\'s identity v3 URL, ending in /v3');
    const secretId = r.string('TASKGATE_KEYSTONE_SECRET_ID');
    return {
      mode: 'keystone', url,
      credentials: secretId ? { from: 'secret', secretId } : {
        from: 'env',
        username: r.required('TASKGATE_KEYSTONE_USERNAME'),
        password: r.required('TASKGATE_KEYSTONE_PASSWORD'),
        projectName: r.string('TASKGATE_KEYSTONE_PROJECT_NAME', 'service'),
        userDomainName: r.string('TASKGATE_KEYSTONE_USER_DOMAIN_NAME', 'Default'),
        projectDomainName: r.string('TASKGATE_KEYSTONE_PROJECT_DOMAIN_NAME', 'Default'),
      },
      cacheTtlSeconds: r.integer('TASKGATE_TOKEN_CACHE_SECONDS', 300, { min: 0, max: 3600 }),
      cacheMaxEntries: r.integer('TASKGATE_TOKEN_CACHE_ENTRIES', 10_000, { min: 1, max: 1_000_000 }),
      timeoutMs: r.integer('TASKGATE_KEYSTONE_TIMEOUT_MS', 5_000, { min: 100, max: 30_000 }),
    };
  }
  const issuer = r.required('TASKGATE_JWT_ISSUER');
  const algorithms = r.string('TASKGATE_JWT_ALGORITHMS', 'RS256').split(',').map((a) => a.trim());
  for (const a of algorithms) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a)) {
      throw new ConfigError(`TASKGATE_JWT_ALGORITHMS: ${JSON.stringify(a.slice(0, 20))} is not an asymmetric JWS algorithm (${ASYMMETRIC_ALGORITHMS.join(', ')})`);
    }
  }
  // Unset by default: a string roles claim is one role. A separator of letters or digits would cut
  // role names apart (`nova-admin` on `-` gives `admin`), so only punctuation or spaces, at most 8.
  const rolesSeparator = r.string('TASKGATE_JWT_ROLES_SEPARATOR');
  if (rolesSeparator !== undefined && (rolesSeparator.length > 8 || /[\p{L}\p{N}\p{M}]/u.test(rolesSeparator))) {
    throw new ConfigError(`TASKGATE_JWT_ROLES_SEPARATOR must be 1 to 8 characters, none a letter or digit (e.g. " " or ","), not ${JSON.stringify(rolesSeparator.slice(0, 20))}`);
  }
  return {
    mode: 'jwt', issuer,
    audience: r.required('TASKGATE_JWT_AUDIENCE'),
    audienceClaim: r.oneOf('TASKGATE_JWT_AUDIENCE_CLAIM', ['aud', 'client_id'] as const, 'aud'),
    jwksUrl: r.string('TASKGATE_JWT_JWKS_URL', `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`),
    projectClaim: r.string('TASKGATE_JWT_PROJECT_CLAIM', 'project_id'),
    rolesClaim: r.string('TASKGATE_JWT_ROLES_CLAIM', 'roles'),
    ...(rolesSeparator !== undefined ? { rolesSeparator } : {}),
    userClaim: r.string('TASKGATE_JWT_USER_CLAIM', 'sub'),
    algorithms,
    clockToleranceSeconds: r.integer('TASKGATE_JWT_CLOCK_TOLERANCE_SECONDS', 0, { min: 0, max: 300 }),
  };
}

// ---------------------------------------------------------------------------------------------
// Placement: the simulated compute hosts the scheduler places servers on (functions/core/placement/).

export interface ComputeHostConfig {
  /** The host's name: nova-compute's service host and its one hypervisor's hostname. */
  readonly name: string;
  /** The availability zone its aggregate puts it in (Nova's default zone is `nova`). */
  readonly zone: string;
  readonly vcpus: number;
  /** MiB. */
  readonly ram: number;
  /** GiB. */
  readonly disk: number;
}

/**
 * The default: one host, as before there were several, large enough that no test or walk-through
 * ever meets its limit (4096 vCPUs, 16 TiB of RAM, 1 PiB of disk at allocation ratio 1).
 */
export const DEFAULT_COMPUTE_HOSTS: readonly ComputeHostConfig[] = [
  { name: 'taskgate-compute', zone: 'nova', vcpus: 4096, ram: 16 * 1024 * 1024, disk: 1024 * 1024 },
];

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * TASKGATE_COMPUTE_HOSTS: a JSON array of hosts, each {"name", "zone" (default nova), "vcpus",
 * "ram" (MiB), "disk" (GiB)}, names unique. Unset: DEFAULT_COMPUTE_HOSTS.
 */
export function computeHosts(env: Env = process.env): readonly ComputeHostConfig[] {
  const raw = new EnvReader(env).string('TASKGATE_COMPUTE_HOSTS');
  if (raw === undefined) return DEFAULT_COMPUTE_HOSTS;
  const fail = (why: string): never => { throw new ConfigError(`TASKGATE_COMPUTE_HOSTS ${why}`); };
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { fail('must be a JSON array of hosts'); }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > 1000) fail('must be a JSON array of 1 to 1000 hosts');
  const seen = new Set<string>();
  return (parsed as unknown[]).map((h, i) => {
    if (typeof h !== 'object' || h === null || Array.isArray(h)) return fail(`[${i}] must be an object`);
    const { name, zone = 'nova', vcpus, ram, disk, ...rest } = h as Record<string, unknown>;
    if (Object.keys(rest).length > 0) fail(`[${i}] has unknown field ${JSON.stringify(Object.keys(rest)[0]!.slice(0, 40))}`);
    if (typeof name !== 'string' || !HOST_NAME.test(name)) fail(`[${i}].name must be 1 to 63 letters, digits, '.', '_' or '-'`);
    if (typeof zone !== 'string' || !HOST_NAME.test(zone)) fail(`[${i}].zone must be 1 to 63 letters, digits, '.', '_' or '-'`);
    for (const [field, value] of Object.entries({ vcpus, ram, disk })) {
      if (!Number.isSafeInteger(value) || (value as number) < 1) fail(`[${i}].${field} must be a positive integer`);
    }
    if (seen.has(name as string)) fail(`names host ${JSON.stringify(name)} twice`);
    seen.add(name as string);
    return { name, zone, vcpus, ram, disk } as ComputeHostConfig;
  });
}

/**
 * TASKGATE_PROJECT_SPREAD: a JSON object naming the projects whose creates and deletes need more
 * than one key's write rate, each {"listingPartitions": M, "usageSlices": K}, 1 to MAX_SPREAD
 * (either may be left out: 1). Unset: none (docs/write-units.md).
 */
export function projectSpreads(env: Env = process.env): ProjectSpreads {
  const raw = new EnvReader(env).string('TASKGATE_PROJECT_SPREAD');
  if (raw === undefined) return {};
  const fail = (why: string): never => { throw new ConfigError(`TASKGATE_PROJECT_SPREAD ${why}`); };
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { fail('must be a JSON object mapping project ids to {"listingPartitions", "usageSlices"}'); }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('must be a JSON object mapping project ids to {"listingPartitions", "usageSlices"}');
  const spreads: Record<string, ProjectSpread> = {};
  for (const [project, value] of Object.entries(parsed as Record<string, unknown>)) {
    const at = JSON.stringify(project.slice(0, 64));
    if (!/^[\w-]{1,255}$/.test(project)) fail(`names ${at}, which is not a project id`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`[${at}] must be an object`);
    const { listingPartitions = 1, usageSlices = 1, ...rest } = value as Record<string, unknown>;
    if (Object.keys(rest).length > 0) fail(`[${at}] has unknown field ${JSON.stringify(Object.keys(rest)[0]!.slice(0, 40))}`);
    for (const [field, count] of Object.entries({ listingPartitions, usageSlices })) {
      if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > MAX_SPREAD) fail(`[${at}].${field} must be an integer from 1 to ${MAX_SPREAD}`);
    }
    spreads[project] = { listingPartitions: listingPartitions as number, usageSlices: usageSlices as number };
  }
  return spreads;
}
