import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiRoutes } from '../../functions/api/routes.js';
import { openApiDocument } from '../../functions/api/openapi.js';

// openapi.json passes Redocly's recommended rules (the installed dev dependency, never a download):
// no error, and only the warnings listed here, each with why it stays. openapi.test.ts keeps the
// committed file equal to a fresh generation, so linting the file lints the generator.

const cli = createRequire(import.meta.url).resolve('@redocly/cli/bin/cli.js');
const openapiJson = new URL('../../openapi.json', import.meta.url).pathname;

/** Warnings of the recommended ruleset that openapi.json keeps, and why. */
const ACCEPTED_WARNINGS: Record<string, string> = {
  'info-license': 'taskgate is a private package with no licence of its own to name',
  'operation-2xx-response': 'Glance\'s and Cinder\'s version discovery answer 300 Multiple Choices at their root, as those services do',
  'no-illogical-composition-keywords': 'a fixed IP is an IPv4 or an IPv6 address: two strings the formats keep apart, which the rule cannot see',
  'no-required-schema-properties-undefined': 'Cinder\'s volume bodies are checked field by field in the route, as Cinder does, so the schema names only the wrapper',
};

interface Problem { ruleId: string; severity: 'error' | 'warn'; message: string; location: { pointer: string }[] }

function lint(file: string): Problem[] {
  let out: string;
  try {
    out = execFileSync(process.execPath, [cli, 'lint', file, '--format=json'], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
      // No telemetry or update check: the tests run offline and print nothing.
      env: { ...process.env, NODE_OPTIONS: '', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
  } catch (err) {
    // Redocly exits 1 when it finds errors; its report is still on stdout.
    out = String((err as { stdout?: string }).stdout ?? '');
    if (!out.trim().startsWith('{')) throw err;
  }
  return (JSON.parse(out) as { problems: Problem[] }).problems;
}

it('openapi.json has no error under Redocly\'s recommended rules, and only the accepted warnings', () => {
  const problems = lint(openapiJson);
  expect(problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)).toEqual([]);
  expect(problems.filter((p) => !(p.ruleId in ACCEPTED_WARNINGS)).map((p) => p.ruleId)).toEqual([]);
}, 60_000);

it('the lint is live: a document with a trailing-slash twin and a duplicate operationId fails it', () => {
  const doc = openApiDocument(apiRoutes(undefined as never)) as { paths: Record<string, Record<string, { operationId: string }>> };
  doc.paths['/v2.1/'] = { get: { ...doc.paths['/v2.1']!.get! } };
  const dir = mkdtempSync(join(tmpdir(), 'taskgate-openapi-'));
  try {
    writeFileSync(join(dir, 'openapi.json'), JSON.stringify(doc));
    const errors = lint(join(dir, 'openapi.json')).filter((p) => p.severity === 'error').map((p) => p.ruleId);
    expect(errors).toEqual(expect.arrayContaining(['no-path-trailing-slash', 'operation-operationId-unique']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

it('declares the three ways X-Auth-Token is checked, and server URLs with variables', () => {
  const doc = openApiDocument(apiRoutes(undefined as never)) as {
    security: Record<string, unknown>[]; servers: { url: string; variables?: object }[];
    components: { securitySchemes: Record<string, { type: string; in: string; name: string }> };
  };
  expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['jwt', 'keystoneToken', 'noauthToken']);
  for (const scheme of Object.values(doc.components.securitySchemes)) expect(scheme).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-Auth-Token' });
  expect(doc.security.map((s) => Object.keys(s)[0]).sort()).toEqual(['jwt', 'keystoneToken', 'noauthToken']);
  expect(doc.servers.every((s) => /\{\w+\}/.test(s.url) && s.variables)).toBe(true);
});
