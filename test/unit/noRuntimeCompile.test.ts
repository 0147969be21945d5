import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { jest } from '@jest/globals';
import { Ajv } from 'ajv';
import { build } from 'esbuild';
import { createApi } from '../../functions/api/app.js';
import { versionString } from '../../functions/api/apiVersion.js';
import { NoauthIdentityProvider } from '../../functions/core/identity/noauth.js';
import { makeTable } from '../../functions/core/shared/table.js';
import { proxyEvent } from '../../local/apiGateway.js';
import { lambdaContext } from '../../local/lambdaContext.js';
import { servedVersions } from '../../scripts/compile-schemas.js';

// The request schemas are compiled ahead of time (`npm run schemas`): the API Lambda's bundle
// carries no ajv compiler (only ajv's small runtime helpers the generated validators import),
// and validating a request at any served version compiles nothing.

const root = fileURLToPath(new URL('../..', import.meta.url));

it('bundles the API handler without ajv\'s compiler: of ajv, only its runtime helpers', async () => {
  const result = await build({
    entryPoints: [`${root}functions/api/handler.ts`], bundle: true, platform: 'node', format: 'esm',
    write: false, metafile: true, logLevel: 'silent', outdir: '/tmp/unused',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs).toEqual(expect.arrayContaining([expect.stringMatching(/functions\/api\/validators\.generated\.ts$/)]));
  const ajv = inputs.filter((path) => path.includes('node_modules/ajv/'));
  expect(ajv.filter((path) => !/node_modules\/ajv\/dist\/runtime\//.test(path))).toEqual([]);
});

it('compiles no schema while it validates requests at every served version', async () => {
  const compile = jest.spyOn(Ajv.prototype, 'compile');
  const compileEnv = jest.spyOn(Ajv.prototype as unknown as { _compileSchemaEnv: () => unknown }, '_compileSchemaEnv');
  const api = createApi({
    table: makeTable('unused', new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' })),
    queue: { send: async () => { throw new Error('not reached: every request here is refused before admission'); } } as never,
    claimLeaseMs: 1000,
  }, { identity: new NoauthIdentityProvider() });
  const post = async (path: string, version: string, body: unknown) => {
    const req = { method: 'POST', url: path, headers: {}, socket: { remoteAddress: '127.0.0.1' } };
    const event = proxyEvent(req as never, Buffer.from(JSON.stringify(body)));
    event.headers = { 'content-type': 'application/json', 'x-auth-token': 'alice:demo', 'openstack-api-version': `compute ${version}` };
    return api(event as never, lambdaContext('api', 5000) as never);
  };
  try {
    for (const v of servedVersions()) {
      const res = await post('/v2.1/servers', versionString(v), { server: { name: 'vm', flavorRef: '1', networks: 'none', accessIPv4: '1.2.3' } });
      expect([versionString(v), res.statusCode, JSON.parse(res.body).badRequest.message]).toEqual([versionString(v), 400,
        v.minor >= 37
          ? 'Invalid input for field/attribute server/accessIPv4. Value: "1.2.3". It must match format "ipv4"'
          : 'Invalid input for field/attribute server/networks. Value: "none". It must be array']);
    }
    // The spies see a compile when there is one: the check can fail.
    expect(compile).not.toHaveBeenCalled();
    expect(compileEnv).not.toHaveBeenCalled();
    new Ajv().compile({ type: 'string' });
    expect(compile).toHaveBeenCalledTimes(1);
  } finally {
    compile.mockRestore();
    compileEnv.mockRestore();
  }
});
