import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ESM_REQUIRE_BANNER } from '../../lib/taskgateFunction.js';
import { synth } from './synth.js';

// The one synth that bundles for real (esbuild, locally, no Docker): each handler becomes an ES
// module that Node loads as Lambda would, with its dependencies (AWS SDK included) inside it.

const run = promisify(execFile);
const outdir = mkdtempSync(join(tmpdir(), 'taskgate-cdk-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

let bundles: { dir: string; code: string }[];
let announced: string[];
beforeAll(() => {
  // CDK announces each bundling on stderr; taken here, and checked below, instead of printed.
  announced = [];
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown) => {
    announced.push(String(chunk));
    return true;
  }) as never);
  try {
    synth({}, { bundle: true, outdir });
  } finally {
    stderr.mockRestore();
  }
  bundles = readdirSync(outdir)
    .filter((d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'index.mjs')))
    .map((d) => ({ dir: join(outdir, d), code: readFileSync(join(outdir, d, 'index.mjs'), 'utf8') }));
});

/** Loads a bundle in a fresh Node process, as the Lambda runtime does, and runs `body` there. */
async function inNode(dir: string, body: string): Promise<unknown> {
  const script = `const m = await import(${JSON.stringify(`file://${dir}/index.mjs`)}); ${body}`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH, TABLE_NAME: 'taskgate', QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/q.fifo', TASKGATE_AUTH_MODE: 'noauth',
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y',
    },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

it('bundles each of the four handlers as an ES module with the require shim', () => {
  expect(bundles).toHaveLength(4);
  expect(announced.filter((line) => line.startsWith('Bundling asset '))).toHaveLength(4);
  expect(announced.filter((line) => !line.startsWith('Bundling asset '))).toEqual([]);
  for (const b of bundles) {
    expect(b.code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(b.code).toMatch(/export\s*\{[^}]*as handler/);
    // The SDK is inside the bundle, not taken from the runtime.
    expect(b.code).not.toMatch(/from\s*"@aws-sdk\//);
    expect(existsSync(join(b.dir, 'index.mjs.map'))).toBe(true);
    // A size budget, minified (Powertools added about 50 kB to each): what a cold start loads and parses.
    // The API function serves four services (compute, image, volume, network) and Nova's admin
    // APIs (placement, server groups, guest actions): 1.22 MB, of which 306 kB are the compiled
    // request validators and 147 kB re2js (docs/costs.md, cold start, says what would shrink it).
    expect(b.code.length).toBeLessThan(1_250_000);
  }
});

it('loads every bundle in plain Node and exports a handler function', async () => {
  for (const b of bundles) {
    await expect(inNode(b.dir, 'console.log(JSON.stringify(typeof m.handler));')).resolves.toBe('function');
  }
});

it('serves a request from the API bundle (the version document, which needs no AWS call)', async () => {
  const api = bundles.find((b) => b.code.includes('/v2.1/servers/{server_id}/action'));
  expect(api).toBeDefined();
  const event = {
    resource: '/{proxy+}', path: '/v2.1', httpMethod: 'GET',
    headers: { Host: 'evil.example', 'X-Auth-Token': 'alice:demo' }, multiValueHeaders: {},
    queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters: { proxy: 'v2.1' }, stageVariables: null,
    body: null, isBase64Encoded: false,
    requestContext: {
      stage: 'compute', path: '/compute/v2.1', requestId: 'r', httpMethod: 'GET', identity: { sourceIp: '127.0.0.1' },
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', apiId: 'abc123',
    },
  };
  const context = "{ awsRequestId: 'r', functionName: 'api', getRemainingTimeInMillis: () => 20000 }";
  const result = await inNode(api!.dir, `const r = await m.handler(${JSON.stringify(event)}, ${context}); console.log(JSON.stringify(r));`) as { statusCode: number; body: string };
  expect(result.statusCode).toBe(200);
  const { version } = JSON.parse(result.body);
  expect(version.id).toBe('v2.1');
  // Links carry API Gateway's domain and the stage, as its client sees the URL; never the Host header.
  expect(version.links[0]).toEqual({ rel: 'self', href: 'https://abc123.execute-api.eu-west-1.amazonaws.com/compute/v2.1/' });
});
