import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import { JwtIdentityProvider } from '../../functions/core/identity/jwt.js';
import { startRuntime, type Runtime } from '../../local/runtime.js';
import { IMAGE, Nova } from '../support/nova.js';

// OIDC/JWT mode over real HTTP: an issuer's JWKS served locally, tokens signed with jose, the
// local runtime running the authorizer before the API as API Gateway would.

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const ISSUER = 'https://issuer.example.test/pool';
const AUDIENCE = 'taskgate-client';
let jwks: Server;
let runtime: Runtime;
let signingKey: Key;
let otherKey: Key;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  runtime = await startRuntime({
    port: 0, driver: { stepMs: 0 }, dynamodbEndpoint: process.env.TASKGATE_DYNAMODB_ENDPOINT,
    identity: new JwtIdentityProvider({
      issuer: ISSUER, audience: AUDIENCE, audienceClaim: 'aud', jwksUrl, projectClaim: 'custom:project',
      rolesClaim: 'cognito:groups', userClaim: 'sub', algorithms: ['RS256'], clockToleranceSeconds: 0,
    }),
  });
});
afterAll(async () => {
  await runtime?.stop();
  await new Promise((resolve) => jwks?.close(resolve));
});

const CLAIMS = { 'custom:project': 'proj-a', 'cognito:groups': ['member', 'reader'] };

async function sign(claims: JWTPayload, opts: { key?: Key; iss?: string; aud?: string; exp?: number | string; sub?: string | null; kid?: string } = {}) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'k1' })
    .setIssuer(opts.iss ?? ISSUER).setAudience(opts.aud ?? AUDIENCE).setIssuedAt().setExpirationTime(opts.exp ?? '10m');
  if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? 'user-1');
  return jwt.sign(opts.key ?? signingKey);
}

it('admits a valid token with the project, user and roles of its claims', async () => {
  const nova = new Nova(runtime.apiUrl, await sign(CLAIMS));
  const id = await nova.createServer('jwt-vm');
  expect(await nova.waitIdle(id)).toMatchObject({ tenant_id: 'proj-a', user_id: 'user-1' });
  const reader = new Nova(runtime.apiUrl, await sign({ ...CLAIMS, 'cognito:groups': ['reader'] }, { sub: 'reader-1' }));
  expect((await reader.get(`/servers/${id}`)).status).toBe(200);
  expect((await reader.action(id, { reboot: { type: 'SOFT' } })).status).toBe(403);
  const other = new Nova(runtime.apiUrl, await sign({ ...CLAIMS, 'custom:project': 'proj-b' }));
  expect((await other.get(`/servers/${id}`)).status).toBe(404);
});

it('refuses expired, wrong issuer, wrong audience, bad signature, alg none and missing claims with 401', async () => {
  const now = Math.floor(Date.now() / 1000);
  const { 'custom:project': _p, ...noProject } = CLAIMS;
  const { 'cognito:groups': _r, ...noRoles } = CLAIMS;
  const valid = await sign(CLAIMS);
  const [h, p] = valid.split('.');
  const cases: Record<string, string> = {
    expired: await sign(CLAIMS, { exp: now - 5 }),
    'wrong issuer': await sign(CLAIMS, { iss: 'https://evil.example.test/pool' }),
    'wrong audience': await sign(CLAIMS, { aud: 'someone-else' }),
    'bad signature': await sign(CLAIMS, { key: otherKey }),
    'unknown kid': await sign(CLAIMS, { kid: 'k2' }),
    'tampered payload': `${h}.${Buffer.from(JSON.stringify({ ...CLAIMS, 'custom:project': 'proj-b', sub: 'user-1', iss: ISSUER, aud: AUDIENCE, exp: now + 600 })).toString('base64url')}.${valid.split('.')[2]}`,
    'alg none': new UnsecuredJWT({ ...CLAIMS }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('user-1').setExpirationTime('10m').encode(),
    'alg none with the header rewritten': `${Buffer.from('{"alg":"none","kid":"k1"}').toString('base64url')}.${p}.`,
    'missing project claim': await sign(noProject),
    'missing roles claim': await sign(noRoles),
    'missing sub': await sign(CLAIMS, { sub: null }),
    'not a JWT': 'alice:demo',
    garbage: 'a.b.c',
  };
  for (const [name, token] of Object.entries(cases)) {
    const res = await new Nova(runtime.apiUrl, token).get('/servers');
    expect([name, res.status]).toEqual([name, 401]);
    expect(res.body.error.code).toBe(401);
  }
  expect((await new Nova(runtime.apiUrl, '').get('/servers')).status).toBe(401);
  expect((await new Nova(runtime.apiUrl, valid).post('/servers', { server: { name: 'ok', flavorRef: '1', imageRef: IMAGE } })).status).toBe(202);
});

it('a group named "viewer,admin" (or "member admin" given as a string) is not an administrator; "admin" is', async () => {
  const owner = new Nova(runtime.apiUrl, await sign(CLAIMS));
  const id = await owner.createServer('owned-by-a');
  await owner.waitIdle(id);
  const outsider = async (groups: unknown) => new Nova(runtime.apiUrl, await sign({ 'custom:project': 'proj-b', 'cognito:groups': groups }, { sub: 'user-b' }));
  const admin = await outsider(['admin']);

  for (const groups of [['viewer,admin'], ['observer,admin', 'reader'], ['Admin', 'member'], ['\u0430dmin', 'member'], 'member admin']) {
    const fake = await outsider(groups);
    const all = await fake.get('/servers?all_tenants=1');
    expect([groups, all.status]).toEqual([groups, 403]);
    expect(JSON.stringify(all.body)).not.toContain(id);
    const reset = await fake.action(id, { 'os-resetState': { state: 'error' } });
    // 403 (the admin-only rule) or 404 (another project's server): never the server, never a change.
    expect([groups, [403, 404].includes(reset.status)]).toEqual([groups, true]);
    const show = await fake.get(`/servers/${id}`);
    expect([groups, [403, 404].includes(show.status)]).toEqual([groups, true]);
    expect(show.body?.server).toBeUndefined();
  }
  expect((await owner.get(`/servers/${id}`)).body.server.status).toBe('ACTIVE');

  const all = await admin.get('/servers?all_tenants=1');
  expect(all.status).toBe(200);
  expect(all.body.servers.map((s: { id: string }) => s.id)).toContain(id);
  expect((await admin.action(id, { 'os-resetState': { state: 'error' } })).status).toBe(202);
  expect((await owner.get(`/servers/${id}`)).body.server.status).toBe('ERROR');
});
