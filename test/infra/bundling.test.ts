import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { computeRoutesOnFirstUse } from '../../functions/api/computeRoutes.js';
import { bundleFunction, esbuildTarget, filesLoadedAtInit, NODE_FLAGS, NODE_WRAPPER_FILE } from '../../lib/functionBundle.js';
import { DEFAULT_RUNTIME } from '../../lib/taskgateFunction.js';
import { synth } from './synth.js';

// The one synth that bundles for real (esbuild, locally, no Docker): each handler becomes an ES
// module that Node loads as Lambda would, with its dependencies (AWS SDK included) inside it and
// in the chunks beside it (lib/functionBundle.ts): those it imports load with it, those it
// reaches through import() on first use.

const run = promisify(execFile);
const outdir = mkdtempSync(join(tmpdir(), 'taskgate-cdk-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

let bundles: { dir: string; code: string }[];
let announced: string[];
let functionEnvironments: Record<string, string>[];
beforeAll(() => {
  // CDK announces each bundling on stderr; taken here, and checked below, instead of printed.
  announced = [];
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown) => {
    announced.push(String(chunk));
    return true;
  }) as never);
  try {
    const { template } = synth({}, { bundle: true, outdir });
    functionEnvironments = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => (f as { Properties: { Environment: { Variables: Record<string, string> } } }).Properties.Environment.Variables);
  } finally {
    stderr.mockRestore();
  }
  bundles = readdirSync(outdir)
    .filter((d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'index.mjs')))
    .map((d) => ({ dir: join(outdir, d), code: readFileSync(join(outdir, d, 'index.mjs'), 'utf8') }));
});

/** The entry and the chunks it imports statically, transitively: what a cold start loads. */
function loadedAtInit(dir: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(join(dir, file), 'utf8');
    for (const m of code.matchAll(/(?:^|[;}\s])(?:import|export)\s*(?:[^"'()]*?from\s*)?"\.\/([^"]+\.mjs)"/g)) {
      visit(join(file, '..', m[1]!));
    }
  };
  visit('index.mjs');
  return [...seen];
}

/** Every JavaScript file of an asset, chunks included. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.mjs'));
}

/** Loads a bundle in a fresh Node process, as the Lambda runtime does, and runs `body` there. */
async function inNode(dir: string, body: string, env: Record<string, string> = {}): Promise<unknown> {
  const script = `const m = await import(${JSON.stringify(`file://${dir}/index.mjs`)}); ${body}`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      PATH: process.env.PATH, TABLE_NAME: 'taskgate', QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/q.fifo', TASKGATE_AUTH_MODE: 'noauth',
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', ...env,
    },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

it('bundles each of the four handlers as an ES module that takes Node\'s built-ins from process.getBuiltinModule', () => {
  expect(bundles).toHaveLength(4);
  expect(announced.filter((line) => line.startsWith('Bundling asset '))).toHaveLength(4);
  expect(announced.filter((line) => !line.startsWith('Bundling asset '))).toEqual([]);
  for (const b of bundles) {
    expect(b.code).toMatch(/export\s*\{[^}]*as handler/);
    // The SDK is inside the bundle, not taken from the runtime.
    expect(b.code).not.toMatch(/from\s*"@aws-sdk\//);
    expect(existsSync(join(b.dir, 'index.mjs.map'))).toBe(true);
    for (const file of jsFiles(b.dir)) {
      const code = readFileSync(join(b.dir, file), 'utf8');
      // Node's built-ins come from process.getBuiltinModule: an ES import of node:http builds its
      // ES facade, which on Node 24 loads undici (about 40 ms of every cold start, docs/costs.md).
      expect([file, code.match(/import\s*[^"'()]*?from\s*"(node:)?[a-z_/0-9]+"/)?.[0]]).toEqual([file, undefined]);
      // No file makes itself a require (createRequire(import.meta.url) cost every file of the
      // cold start its time) or needs one: esbuild's stand-in would throw.
      expect([file, code.includes('createRequire'), code.includes('Dynamic require of')]).toEqual([file, false, false]);
      expect(existsSync(join(b.dir, `${file}.map`))).toBe(true);
    }
    // A size budget, minified: what a cold start loads and parses. The API function serves four
    // services (compute, image, volume, network) and Nova's admin APIs: 0.51 MB at init; the
    // request bodies' validators (0.3 MB), RE2JS (0.15 MB), the SQS client, the other services'
    // routes, Nova's rare routes' handlers and the SDK's other credential providers load when a
    // request first needs them (docs/costs.md, cold start). The goal is 600 KiB.
    const bytes = loadedAtInit(b.dir).reduce((sum, f) => sum + readFileSync(join(b.dir, f)).length, 0);
    expect(bytes).toBeLessThan(600 * 1024);
  }
});

it('keeps what only some requests need out of the API\'s cold start, in chunks that load', async () => {
  const api = bundles.find((b) => b.code.includes('/v2.1/servers/{server_id}/action'))!;
  const atInit = loadedAtInit(api.dir).map((f) => readFileSync(join(api.dir, f), 'utf8')).join('\n');
  const lazy = jsFiles(api.dir).filter((f) => !loadedAtInit(api.dir).includes(f)).map((f) => readFileSync(join(api.dir, f), 'utf8')).join('\n');
  // RE2JS and the create schema's versioned validators are in chunks of their own (booleans: a
  // failure would print megabytes of code).
  const where = (text: string) => ({ atInit: atInit.includes(text), later: lazy.includes(text) });
  expect(where('createServer_2_19')).toEqual({ atInit: false, later: true });
  expect(where('RE2JSSyntaxException')).toEqual({ atInit: false, later: true });
  // So are the other services' routes (Glance, Cinder, Neutron: functions/api/serviceRoutes.ts).
  expect(where('Create an image record, status queued (Glance)')).toEqual({ atInit: false, later: true });
  expect(where('/volumes/{volume_id}/action')).toEqual({ atInit: false, later: true });
  expect(where('vif_type')).toEqual({ atInit: false, later: true });
});

it('keeps the handlers of Nova\'s rare routes out of the API\'s cold start: only their declarations load with it', async () => {
  // The build's own account of which source module went into which output file.
  const meta = await bundleFunction('api', join(outdir, 'api-metafile'), esbuildTarget(DEFAULT_RUNTIME.name));
  const atInit = new Set(filesLoadedAtInit(meta).flatMap((file) => Object.keys(meta.outputs[file]!.inputs)));
  const bundled = new Set(Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs)));
  // computeRoutes.ts import()s one module, which brings the handlers' modules of every group of
  // routesOnFirstUse.ts.
  const imports = (module: string, kind: string) => meta.inputs[module]!.imports.filter((i) => i.kind === kind).map((i) => i.path);
  expect(imports('functions/api/computeRoutes.ts', 'dynamic-import')).toEqual(['functions/api/compute/rareRouteHandlers.ts']);
  const later = imports('functions/api/compute/rareRouteHandlers.ts', 'import-statement');
  expect(later).toHaveLength(Object.keys(computeRoutesOnFirstUse).length);
  expect(later).toEqual(expect.arrayContaining(['functions/api/compute/hypervisors.ts', 'functions/api/compute/aggregates.ts', 'functions/api/compute/usage.ts']));
  for (const module of ['functions/api/compute/rareRouteHandlers.ts', ...later]) {
    expect([module, atInit.has(module), bundled.has(module)]).toEqual([module, false, true]);
  }
  // The declarations are in the route table the API builds as it loads.
  expect(atInit.has('functions/api/compute/hypervisorRoutes.ts')).toBe(true);
  // Each file is a module the cold start opens, compiles and links: the code shared between the
  // entry and each import()ed module is split into chunks of its own, so every import() added
  // costs files at init (13 of them, one per group, made 43 files and 25 ms more CPU).
  expect(filesLoadedAtInit(meta).length).toBeLessThanOrEqual(24);
});

it('keeps the SQS client out of the compute functions\' cold start: only a driver that waits on its backend (EC2) sends', async () => {
  for (const handler of ['compute', 'computeEc2']) {
    const meta = await bundleFunction(handler, join(outdir, `${handler}-metafile`), esbuildTarget(DEFAULT_RUNTIME.name));
    const atInit = filesLoadedAtInit(meta).flatMap((file) => Object.keys(meta.outputs[file]!.inputs));
    const sqs = Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs)).filter((i) => i.includes('@aws-sdk/client-sqs/'));
    expect([handler, sqs.length > 0, atInit.filter((i) => i.includes('@aws-sdk/client-sqs/'))]).toEqual([handler, true, []]);
  }
});

it('loads every bundle in plain Node and exports a handler function', async () => {
  for (const b of bundles) {
    await expect(inNode(b.dir, 'console.log(JSON.stringify(typeof m.handler));')).resolves.toBe('function');
  }
});

const REQUEST = {
  resource: '/{proxy+}', headers: { Host: 'evil.example', 'X-Auth-Token': 'alice:demo' }, multiValueHeaders: {},
  queryStringParameters: null, multiValueQueryStringParameters: null, stageVariables: null, body: null, isBase64Encoded: false,
  requestContext: {
    stage: 'compute', requestId: 'r', identity: { sourceIp: '127.0.0.1' },
    domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', apiId: 'abc123',
  },
};
const CONTEXT = "{ awsRequestId: 'r', functionName: 'api', getRemainingTimeInMillis: () => 20000 }";

it('answers from the chunks it loads on first use: a body\'s validators, a name filter\'s regular expressions, another service\'s routes, a rare route\'s handler', async () => {
  const api = bundles.find((b) => b.code.includes('/v2.1/servers/{server_id}/action'))!;
  // Both refused before any AWS call: a create without a name, a list filtered by a pattern RE2 cannot run.
  const create = { ...REQUEST, path: '/v2.1/servers', httpMethod: 'POST', body: JSON.stringify({ server: { flavorRef: '1' } }),
    requestContext: { ...REQUEST.requestContext, path: '/compute/v2.1/servers', httpMethod: 'POST' } };
  const list = { ...REQUEST, path: '/v2.1/servers', httpMethod: 'GET', queryStringParameters: { name: '(a)\\1' },
    multiValueQueryStringParameters: { name: ['(a)\\1'] }, requestContext: { ...REQUEST.requestContext, path: '/compute/v2.1/servers', httpMethod: 'GET' } };
  // Glance's version discovery, which needs no AWS call either.
  const glance = { ...REQUEST, path: '/image', httpMethod: 'GET', requestContext: { ...REQUEST.requestContext, path: '/compute/image', httpMethod: 'GET' } };
  // A rare route (routesOnFirstUse.ts): a member is refused by its declared policy; for an
  // administrator its handler, from its chunk, answers that 2.43 has no os-hosts (Nova's 404).
  const hosts = (token: string) => ({ ...REQUEST, path: '/v2.1/os-hosts', httpMethod: 'GET',
    headers: { ...REQUEST.headers, 'X-Auth-Token': token, 'OpenStack-API-Version': 'compute 2.43' },
    requestContext: { ...REQUEST.requestContext, path: '/compute/v2.1/os-hosts', httpMethod: 'GET' } });
  const answers = await inNode(api.dir, `const a = await m.handler(${JSON.stringify(create)}, ${CONTEXT}); `
    + `const b = await m.handler(${JSON.stringify(list)}, ${CONTEXT}); const c = await m.handler(${JSON.stringify(glance)}, ${CONTEXT}); `
    + `const d = await m.handler(${JSON.stringify(hosts('alice:demo'))}, ${CONTEXT}); const e = await m.handler(${JSON.stringify(hosts('admin:demo'))}, ${CONTEXT}); `
    + 'console.log(JSON.stringify([a, b, c, d, e]));') as { statusCode: number; body: string }[];
  expect(answers.map((a) => a.statusCode)).toEqual([400, 400, 300, 403, 404]);
  expect(JSON.parse(answers[3]!.body).forbidden.message).toMatch(/os_compute_api:os-hosts:list/);
  expect(JSON.parse(answers[4]!.body).itemNotFound.message).toBe('The resource could not be found.');
  expect(JSON.parse(answers[2]!.body).versions.length).toBeGreaterThan(0);
  expect(JSON.parse(answers[0]!.body).badRequest.message).toMatch(/'name' is a required property/);
  expect(JSON.parse(answers[1]!.body).badRequest.message).toMatch(/Not a valid regular expression/);
});

it('signs its first DynamoDB request with the environment\'s credentials (the SDK\'s providers load from their chunks)', async () => {
  const api = bundles.find((b) => b.code.includes('/v2.1/servers/{server_id}/action'))!;
  const seen: { target?: string; authorization?: string }[] = [];
  // A stand-in for DynamoDB that records what reaches it and refuses it as DynamoDB would.
  const dynamodb = createServer((req, res) => {
    seen.push({ target: req.headers['x-amz-target'] as string, authorization: req.headers.authorization });
    req.resume();
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' }));
  });
  await new Promise<void>((resolve) => dynamodb.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = dynamodb.address() as AddressInfo;
    const list = { ...REQUEST, path: '/v2.1/servers', httpMethod: 'GET', requestContext: { ...REQUEST.requestContext, path: '/compute/v2.1/servers', httpMethod: 'GET' } };
    const answer = await inNode(api.dir, `const a = await m.handler(${JSON.stringify(list)}, ${CONTEXT}); console.log(JSON.stringify(a));`,
      { AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}` }) as { statusCode: number };
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]!.target).toMatch(/^DynamoDB_20120810\./);
    expect(seen[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=x\/\d{8}\/us-east-1\/dynamodb\/aws4_request/);
    // The table is missing: the API's own error, not a module that failed to load.
    expect(answer.statusCode).toBeGreaterThanOrEqual(500);
  } finally {
    dynamodb.close();
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

it('starts each function\'s node with taskgate\'s V8 flags, through a wrapper in its asset (NODE_OPTIONS may not carry them)', async () => {
  expect(functionEnvironments.length).toBeGreaterThanOrEqual(4);
  for (const env of functionEnvironments) expect(env.AWS_LAMBDA_EXEC_WRAPPER).toBe(`/var/task/${NODE_WRAPPER_FILE}`);
  for (const b of bundles) {
    const wrapper = join(b.dir, NODE_WRAPPER_FILE);
    // Executable: Lambda runs it directly (the asset's zip keeps the mode).
    expect(statSync(wrapper).mode & 0o111).toBe(0o111);
    // Handed the runtime's command line, node first, it runs node with the flags after it.
    const { stdout } = await run(wrapper, [process.execPath, '--expose-gc', '-e',
      'const v8 = require("node:v8"); console.log(JSON.stringify([process.execArgv, v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size]))']);
    const [execArgv, newSpaceBytes] = JSON.parse(stdout) as [string[], number];
    expect(execArgv.slice(0, NODE_FLAGS.length + 1)).toEqual([...NODE_FLAGS, '--expose-gc']);
    // A young generation of 8 MB semi-spaces from the start (V8's default starts at 1 MB).
    expect(newSpaceBytes).toBeGreaterThanOrEqual(8 * 1024 * 1024);
  }
});
