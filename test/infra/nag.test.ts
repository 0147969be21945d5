import { Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ACCEPTED_FINDINGS } from '../../lib/nagSuppressions.js';
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
  expect([...ids.keys()].sort()).toEqual(Object.values(ACCEPTED_FINDINGS).map((f) => f.id).sort());
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
