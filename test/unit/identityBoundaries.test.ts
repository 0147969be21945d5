import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { authorizeRequest } from '../../functions/authorizer/authorize.js';
import { ConfigError, identityConfig, type Env, type JwtConfig } from '../../functions/core/shared/config.js';
import { MAX_ROLES, callerOf, fromAuthorizerContext, toAuthorizerContext } from '../../functions/core/identity/caller.js';
import { identityProvider } from '../../functions/core/identity/fromConfig.js';
import type { Identity, IdentityProvider } from '../../functions/core/identity/identity.js';
import { JwtIdentityProvider } from '../../functions/core/identity/jwt.js';
import type { Caller } from '../../functions/core/compute/instance.js';
import { allows, type PolicyName } from '../../functions/core/shared/policy.js';
import { runAuthorizer } from '../../local/authorizer.js';

// Every boundary that turns a token into a caller, fed hostile role names: a role whose name
// contains a comma or a space, differs from `admin` by case, blanks or a Unicode look-alike, or is
// absurdly long or numerous must come out as exactly the roles given, and none of them Nova's.

const ADMIN_ONLY: PolicyName[] = ['os_compute_api:servers:index:get_all_tenants', 'os_compute_api:os-admin-actions:reset_state',
  'os_compute_api:os-flavor-manage:create', 'os_compute_api:os-lock-server:unlock:unlock_override'];
const MEMBER: PolicyName = 'os_compute_api:servers:create';
const READER: PolicyName = 'os_compute_api:servers:index';
const ANY: PolicyName = 'os_compute_api:flavors';

/** Role names that are not `admin`, `member` or `reader`, though a sloppy comparison would say so. */
const NOT_NOVA_ROLES: Record<string, string> = {
  'comma-joined': 'viewer,admin',
  'comma-joined, admin first': 'admin,viewer',
  'comma-joined member': 'observer,member',
  'space-joined': 'member admin',
  'comma and space': 'reader, admin',
  'JSON in a name': '["admin"]',
  'Admin': 'Admin',
  'ADMIN': 'ADMIN',
  'Member': 'Member',
  'READER': 'READER',
  'leading space': ' admin',
  'trailing space': 'admin ',
  'trailing tab': 'admin\t',
  'trailing newline': 'admin\n',
  'Cyrillic a': '\u0430dmin',
  'fullwidth': '\uff41\uff44\uff4d\uff49\uff4e',
  'zero-width space': 'admin\u200b',
  'zero-width joiner inside': 'ad\u200dmin',
  'NUL': 'admin\u0000',
  'combining mark': 'admin\u0301',
  'empty': '',
};

function expectNobody(caller: Caller | undefined, label: string) {
  expect([label, caller?.isAdmin]).toEqual([label, false]);
  for (const p of ADMIN_ONLY) expect([label, p, allows(caller!, p)]).toEqual([label, p, false]);
  expect([label, allows(caller!, MEMBER), allows(caller!, READER), allows(caller!, ANY)]).toEqual([label, false, false, true]);
}

const identity = (roles: readonly string[]): Identity => ({ userId: 'user-1', projectId: 'proj-a', roles });
const roundTrip = (roles: readonly string[]) => fromAuthorizerContext({ ...toAuthorizerContext(identity(roles)) });

describe('the authorizer context (toAuthorizerContext, then fromAuthorizerContext)', () => {
  it.each(Object.entries(NOT_NOVA_ROLES))('a single role %s is kept exactly and is none of admin, member, reader', (label, role) => {
    const caller = roundTrip([role]);
    expect(caller?.roles).toEqual([role]);
    expectNobody(caller, label);
  });

  it('keeps every hostile name together, in order, and still admits nobody', () => {
    const roles = Object.values(NOT_NOVA_ROLES);
    const caller = roundTrip(roles);
    expect(caller?.roles).toEqual(roles);
    expectNobody(caller, 'all');
  });

  it('gives the real roles their meaning, whatever sits beside them', () => {
    const admin = roundTrip(['viewer,admin', 'admin', '']);
    expect(admin).toMatchObject({ userId: 'user-1', projectId: 'proj-a', roles: ['viewer,admin', 'admin', ''], isAdmin: true });
    for (const p of [...ADMIN_ONLY, MEMBER, READER]) expect(allows(admin!, p)).toBe(true);
    const member = roundTrip(['Admin', 'member']);
    expect(member?.isAdmin).toBe(false);
    expect([allows(member!, MEMBER), allows(member!, READER), allows(member!, ADMIN_ONLY[0]!)]).toEqual([true, true, false]);
    const reader = roundTrip(['reader', 'member ']);
    expect([reader?.isAdmin, allows(reader!, READER), allows(reader!, MEMBER)]).toEqual([false, true, false]);
    expect(roundTrip([])).toMatchObject({ roles: [], isAdmin: false });
  });

  it(`keeps ${MAX_ROLES} roles and a 10 KB role name exactly, and is not admin`, () => {
    const many = Array.from({ length: MAX_ROLES }, (_, i) => `role-${i},admin`);
    const caller = roundTrip(many);
    expect(caller?.roles).toEqual(many);
    expectNobody(caller, '1000 roles');
    const long = `${'a'.repeat(10 * 1024 - 6)},admin`;
    expect(long.length).toBe(10 * 1024);
    const big = roundTrip([long, ' admin']);
    expect(big?.roles).toEqual([long, ' admin']);
    expectNobody(big, '10 KB role');
    expect(roundTrip(['x'.repeat(10 * 1024), 'admin'])?.isAdmin).toBe(true);
  });

  it(`keeps only the first ${MAX_ROLES} of more roles: dropping takes privilege away, never gives it`, () => {
    const filler = Array.from({ length: 5 * MAX_ROLES }, (_, i) => `r${i}`);
    const late = roundTrip([...filler, 'admin']);
    expect(late?.roles).toHaveLength(MAX_ROLES);
    expect(late?.isAdmin).toBe(false);
    const early = roundTrip(['admin', ...filler]);
    expect(early?.roles).toHaveLength(MAX_ROLES);
    expect(early?.isAdmin).toBe(true);
  });

  it('admits nobody from a malformed context', () => {
    const base = { userId: 'user-1', projectId: 'proj-a' };
    const malformed: Record<string, unknown> = {
      'comma string': 'viewer,admin',
      'bare role': 'admin',
      'JSON object': '{"0":"admin"}',
      'JSON object with roles': '{"roles":["admin"]}',
      'JSON string': '"admin"',
      'JSON array with a number': '["admin",1]',
      'JSON array with null': '["admin",null]',
      'JSON array of arrays': '[["admin"]]',
      'JSON null': 'null',
      'JSON number': '1',
      'invalid JSON': '["admin"',
      'trailing garbage': '["admin"] x',
      'empty string': '',
      'an actual array': ['admin'],
      'a number': 1,
      'missing': undefined,
      [`more than ${MAX_ROLES} roles`]: JSON.stringify(Array.from({ length: MAX_ROLES + 1 }, () => 'admin')),
    };
    for (const [label, roles] of Object.entries(malformed)) {
      expect([label, fromAuthorizerContext({ ...base, roles })]).toEqual([label, undefined]);
    }
    expect(fromAuthorizerContext({ userId: '', projectId: 'proj-a', roles: '["admin"]' })).toBeUndefined();
    expect(fromAuthorizerContext({ userId: 'user-1', projectId: 1, roles: '["admin"]' })).toBeUndefined();
    expect(fromAuthorizerContext(undefined)).toBeUndefined();
    expect(fromAuthorizerContext(null)).toBeUndefined();
  });

  it('puts only strings in the context (API Gateway\'s rule)', () => {
    for (const value of Object.values(toAuthorizerContext(identity(['viewer,admin', ''])))) expect(typeof value).toBe('string');
  });
});

/** A proxy event as the local API Gateway builds it, for the in-process authorizer. */
function proxyEvent(token: string, path = '/v2.1/servers'): APIGatewayProxyEvent {
  return {
    resource: '/{proxy+}', path, httpMethod: 'GET', headers: { 'X-Auth-Token': token }, multiValueHeaders: { 'X-Auth-Token': [token] },
    pathParameters: null, queryStringParameters: null, multiValueQueryStringParameters: null, stageVariables: null,
    requestContext: {} as APIGatewayProxyEvent['requestContext'], body: null, isBase64Encoded: false,
  };
}

/** The local runtime's authorizer path: runAuthorizer around authorizeRequest, then the API's reading of the context. */
async function throughAuthorizer(provider: IdentityProvider, token = 'token'): Promise<Caller | undefined> {
  const event = proxyEvent(token);
  const refused = await runAuthorizer((e) => authorizeRequest(provider, e), event);
  expect(refused).toBeUndefined();
  return fromAuthorizerContext(event.requestContext.authorizer as Record<string, unknown> | undefined);
}

/** A provider answering every token with the given roles: the identity service is not the boundary under test. */
const fixedProvider = (roles: readonly string[]): IdentityProvider => ({ mode: 'keystone', authenticate: async () => identity(roles) });

describe('the local in-process authorizer (runAuthorizer, authorizeRequest)', () => {
  it.each(Object.entries(NOT_NOVA_ROLES))('a Keystone user whose only role is %s is not an administrator', async (label, role) => {
    const caller = await throughAuthorizer(fixedProvider([role]));
    expect(caller?.roles).toEqual([role]);
    expectNobody(caller, label);
  });

  it(`carries ${MAX_ROLES} roles, a 10 KB name and empty strings exactly`, async () => {
    const roles = ['', ...Array.from({ length: MAX_ROLES - 3 }, (_, i) => `g${i},admin`), 'b'.repeat(10 * 1024), ''];
    const caller = await throughAuthorizer(fixedProvider(roles));
    expect(caller?.roles).toEqual(roles);
    expectNobody(caller, 'absurd identity');
  });

  it('keeps the real admin an admin, and caps a longer list without making anyone one', async () => {
    expect((await throughAuthorizer(fixedProvider(['reader', 'member', 'admin'])))?.isAdmin).toBe(true);
    const capped = await throughAuthorizer(fixedProvider([...Array.from({ length: 2 * MAX_ROLES }, () => 'viewer,admin'), 'admin']));
    expect(capped?.roles).toHaveLength(MAX_ROLES);
    expect(capped?.isAdmin).toBe(false);
  });
});

describe('JWT mode (a local JWKS, tokens signed with jose)', () => {
  const ISSUER = 'https://issuer.example.test/pool';
  const AUDIENCE = 'taskgate-client';
  let jwks: Server;
  let jwksUrl: string;
  let signingKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    signingKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => jwks?.close(resolve));
  });

  const options = (rolesSeparator?: string): Omit<JwtConfig, 'mode'> => ({
    issuer: ISSUER, audience: AUDIENCE, audienceClaim: 'aud', jwksUrl, projectClaim: 'custom:project',
    rolesClaim: 'cognito:groups', userClaim: 'sub', algorithms: ['RS256'], clockToleranceSeconds: 0,
    ...(rolesSeparator !== undefined ? { rolesSeparator } : {}),
  });
  /** The JWT provider as the configuration builds it from the environment. */
  const fromEnv = (extra: Env = {}) => identityProvider(identityConfig({
    TASKGATE_AUTH_MODE: 'jwt', TASKGATE_JWT_ISSUER: ISSUER, TASKGATE_JWT_AUDIENCE: AUDIENCE, TASKGATE_JWT_JWKS_URL: jwksUrl,
    TASKGATE_JWT_PROJECT_CLAIM: 'custom:project', TASKGATE_JWT_ROLES_CLAIM: 'cognito:groups', ...extra,
  }));
  const sign = (groups: unknown) => new SignJWT({ 'custom:project': 'proj-a', 'cognito:groups': groups } as JWTPayload)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('user-1')
    .setIssuedAt().setExpirationTime('10m').sign(signingKey);

  /** The caller both ways the API can get it: the provider directly (noauth-style) and through the authorizer context. */
  async function callers(provider: IdentityProvider, groups: unknown): Promise<[Caller, Caller | undefined]> {
    const token = await sign(groups);
    return [callerOf(await provider.authenticate(token)), await throughAuthorizer(provider, token)];
  }

  it('takes an array claim as is: ["observer,admin"] is one role, not admin', async () => {
    for (const caller of await callers(new JwtIdentityProvider(options()), ['observer,admin'])) {
      expect(caller?.roles).toEqual(['observer,admin']);
      expectNobody(caller, 'observer,admin');
    }
  });

  it('takes a string claim as one role: "member admin" is neither member nor admin', async () => {
    for (const provider of [new JwtIdentityProvider(options()), fromEnv()]) {
      for (const caller of await callers(provider, 'member admin')) {
        expect(caller?.roles).toEqual(['member admin']);
        expectNobody(caller, 'member admin');
      }
      for (const caller of await callers(provider, 'reader,member')) expectNobody(caller, 'reader,member');
      const [one] = await callers(provider, 'member');
      expect([one.roles, allows(one, MEMBER), one.isAdmin]).toEqual([['member'], true, false]);
    }
  });

  it('splits a string claim on TASKGATE_JWT_ROLES_SEPARATOR when set, dropping empty pieces', async () => {
    for (const caller of await callers(fromEnv({ TASKGATE_JWT_ROLES_SEPARATOR: ' ' }), 'member  admin ')) {
      expect(caller?.roles).toEqual(['member', 'admin']);
      expect([caller?.isAdmin, allows(caller!, MEMBER)]).toEqual([true, true]);
    }
    // Exactly that separator: a comma does not split on spaces, nor a space on commas.
    for (const caller of await callers(fromEnv({ TASKGATE_JWT_ROLES_SEPARATOR: ',' }), 'member admin,reader')) {
      expect(caller?.roles).toEqual(['member admin', 'reader']);
      expect([caller?.isAdmin, allows(caller!, MEMBER), allows(caller!, READER)]).toEqual([false, false, true]);
    }
    for (const caller of await callers(new JwtIdentityProvider(options(' ')), 'observer,admin')) expectNobody(caller, 'observer,admin with " "');
    // An array claim is never split, separator or not.
    for (const caller of await callers(fromEnv({ TASKGATE_JWT_ROLES_SEPARATOR: ',' }), ['viewer,admin'])) {
      expect(caller?.roles).toEqual(['viewer,admin']);
      expectNobody(caller, 'array with ","');
    }
  });

  it.each([['Admin'], ['ADMIN'], [' admin'], ['admin '], ['\u0430dmin'], ['\uff41\uff44\uff4d\uff49\uff4e'], ['admin\u200b']])(
    'a %j group is not admin', async (role) => {
      for (const caller of await callers(new JwtIdentityProvider(options()), [role])) {
        expect(caller?.roles).toEqual([role]);
        expectNobody(caller, JSON.stringify(role));
      }
    },
  );

  it('still admits ["admin"] as an administrator, and refuses a claim with a non-string element', async () => {
    const provider = new JwtIdentityProvider(options());
    for (const caller of await callers(provider, ['admin'])) expect(caller?.isAdmin).toBe(true);
    for (const bad of [['admin', 1], ['admin', null], [['admin']], { 0: 'admin' }, 1, true]) {
      await expect(provider.authenticate(await sign(bad))).rejects.toMatchObject({ name: 'Unauthenticated' });
    }
    const refused = await runAuthorizer((e) => authorizeRequest(provider, e), proxyEvent(await sign(['admin', 7])));
    expect(refused?.statusCode).toBe(401);
  });

  it(`survives a token (under the 8 KB token limit) with more than ${MAX_ROLES} roles, none of them admin`, async () => {
    const roles = Array.from({ length: MAX_ROLES + 100 }, () => ',');
    const [direct, viaAuthorizer] = await callers(new JwtIdentityProvider(options()), roles);
    expect(direct.roles).toEqual(roles);
    expect(viaAuthorizer?.roles).toEqual(roles.slice(0, MAX_ROLES));
    for (const caller of [direct, viaAuthorizer]) expectNobody(caller, 'many');
    const [, viaContext] = await callers(new JwtIdentityProvider(options()), ['', '', 'member']);
    expect(viaContext?.roles).toEqual(['', '', 'member']);
  });
});

describe('TASKGATE_JWT_ROLES_SEPARATOR', () => {
  const base = { TASKGATE_AUTH_MODE: 'jwt', TASKGATE_JWT_ISSUER: 'https://issuer.example.test', TASKGATE_JWT_AUDIENCE: 'a' };
  const separator = (value?: string) => {
    const c = identityConfig({ ...base, TASKGATE_JWT_ROLES_SEPARATOR: value });
    return c.mode === 'jwt' ? c.rolesSeparator : 'not jwt';
  };

  it('is unset by default (a string claim is one role) and takes spaces or punctuation', () => {
    expect(separator()).toBeUndefined();
    expect(separator('')).toBeUndefined();
    expect(separator(' ')).toBe(' ');
    expect(separator(',')).toBe(',');
    expect(separator(', ')).toBe(', ');
  });

  it.each(['a', 'admin', ',a', '1', '\u0430', 'x'.repeat(3), ' '.repeat(9)])('refuses %j', (value) => {
    expect(() => separator(value)).toThrow(ConfigError);
    expect(() => separator(value)).toThrow(/TASKGATE_JWT_ROLES_SEPARATOR/);
  });
});
