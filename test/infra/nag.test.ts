import { App, Validations } from 'aws-cdk-lib';
import { TaskgateStack } from '../../lib/taskgateStack.js';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ACCEPTED_FINDINGS } from '../../lib/nagSuppressions.js';
import { isPublicPath } from '../../functions/authorizer/gatewayResponses.js';
import { synth } from './synth.js';

// cdk-nag's AwsSolutions pack over the stack: no unacknowledged finding (error or warning), and
// every acknowledgement is one of the listed ones, each with a written reason.

const violationsOf = (scope: Parameters<AwsSolutionsChecks['validateScope']>[0]) =>
  new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(scope).violations
    .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`);

function acknowledged(scope: { node: { findAll(): { node: { metadata: { type: string; data: unknown }[] } }[] } }) {
  const ids = new Map<string, string>();
  for (const c of scope.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, string>)) ids.set(id.replace(/^annotation::/i, ''), reason);
    }
  }
  return ids;
}

it('finds nothing unacknowledged in the default stack', () => {
  const { stack } = synth();
  expect(violationsOf(stack)).toEqual([]);
});

it('acknowledges only the listed findings, each with a reason (the logging role\'s only where it is created)', () => {
  const { stack } = synth({ apiGatewayCloudWatchRole: true });
  const ids = acknowledged(stack);
  expect([...ids.keys()].every((id) => Object.values(ACCEPTED_FINDINGS).some((f) => f.id === id))).toBe(true);
  expect(ids.get(ACCEPTED_FINDINGS.noauth.id)).toBe(ACCEPTED_FINDINGS.noauth.reason); // the default test stack is noauth
  for (const reason of ids.values()) expect(reason.length).toBeGreaterThan(60);
  expect(violationsOf(stack)).toEqual([]);
  expect(acknowledged(synth().stack).has(ACCEPTED_FINDINGS.apiGatewayLogsRole.id)).toBe(false);
});

it('needs no WAF acknowledgement once a web ACL is associated, and still finds nothing', () => {
  const { stack } = synth({ webAclArn: 'arn:aws:wafv2:us-east-1:111111111111:regional/webacl/taskgate/abc' });
  expect(acknowledged(stack).has(ACCEPTED_FINDINGS.waf.id)).toBe(false);
  expect(violationsOf(stack)).toEqual([]);
});

it('would report a finding the stack does not acknowledge (the check is live)', () => {
  const { stack } = synth();
  // A queue without a dead-letter queue and without TLS enforcement: AwsSolutions-SQS3 and SQS4.
  new Queue(stack, 'Unchecked');
  expect(violationsOf(stack).join('\n')).toMatch(/AwsSolutions-SQS3[\s\S]*Unchecked|Unchecked[\s\S]*AwsSolutions-SQS3/);
});

/** Paths of the constructs that acknowledge a finding themselves. */
function acknowledgedAt(scope: { node: { findAll(): { node: { path: string; metadata: { type: string; data: unknown }[] } }[] } }, id: string) {
  return scope.node.findAll().filter((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    && Object.keys(m.data as object).some((k) => k.replace(/^annotation::/i, '') === id))).map((c) => c.node.path);
}

describe('identity modes', () => {
  it('refuses to build a stack without an identity mode', () => {
    expect(() => new TaskgateStack(new App(), 'NoAuth', {})).toThrow(/identity mode/);
  });

  for (const auth of [
    { mode: 'keystone', keystoneUrl: 'https://keystone.example.com/v3' },
    { mode: 'jwt', issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc', audience: 'client' },
  ] as const) {
    it(`${auth.mode}: an authorizer on every method but version discovery; APIG4 fixed, not acknowledged`, () => {
      const { stack, template } = synth({ auth });
      expect(violationsOf(stack)).toEqual([]);
      expect(acknowledgedAt(stack, 'AwsSolutions-APIG4').sort()).toEqual(stack.api!.publicMethods.map((m) => m.node.path).sort());
      // Each service's version discovery, and nothing else, is served without the authorizer.
      const publicPaths = stack.api!.publicMethods.map((m) => m.resource.path);
      expect(publicPaths).toEqual(expect.arrayContaining(['/', '/v2.1', '/image', '/image/versions', '/volume', '/volume/v3', '/network', '/network/v2.0']));
      expect(publicPaths.filter((path) => !isPublicPath(path))).toEqual([]);
      const methods = Object.values(template.findResources('AWS::ApiGateway::Method')) as { Properties: { AuthorizationType: string; HttpMethod: string } }[];
      expect(methods.filter((m) => m.Properties.AuthorizationType === 'NONE').map((m) => m.Properties.HttpMethod)).toEqual(publicPaths.map(() => 'GET'));
      expect(methods.filter((m) => m.Properties.AuthorizationType === 'CUSTOM').length).toBeGreaterThanOrEqual(2);
      template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', IdentitySource: 'method.request.header.X-Auth-Token', AuthorizerResultTtlInSeconds: 60 });
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'UNAUTHORIZED', StatusCode: '401' });
      template.resourceCountIs('AWS::SecretsManager::Secret', auth.mode === 'keystone' ? 1 : 0);
    });
  }
});
