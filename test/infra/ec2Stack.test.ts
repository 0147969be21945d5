import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Ec2DriverProps } from '../../lib/ec2Compute.js';
import { synth } from './synth.js';

// -c driver=ec2 in the template: the compute function runs the EC2 driver; every EC2 action that
// changes something is limited to resources tagged with this stack (or named by the
// configuration), iam:PassRole to the configured role only; EventBridge feeds the drift function
// EC2's state changes and a reconcile schedule; cdk-nag finds nothing unacknowledged.

const EC2: Ec2DriverProps = {
  subnetId: 'subnet-0123456789abcdef0', securityGroupIds: ['sg-0123456789abcdef0'],
  instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/taskgate-guest',
  instanceRoleArn: 'arn:aws:iam::123456789012:role/taskgate-guest', keyName: 'taskgate',
  instanceTypes: { 1: 't3.micro', 2: 't3.small' }, amis: { '70a599e0-31e7-49b7-b260-868f441e862b': 'ami-0123456789abcdef0' },
};

interface Statement { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> }

function statementsOf(template: ReturnType<typeof synth>['template'], roleLogicalIdPrefix: RegExp): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => roleLogicalIdPrefix.test(r.Ref)))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const MUTATING = /^ec2:(?!Describe)/;

describe('-c driver=ec2', () => {
  const { stack, template } = synth({ ec2: EC2 });
  const compute = statementsOf(template, /^ComputeFunction/);

  test('the compute function runs the EC2 driver with its settings', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'taskgate compute worker',
      Environment: { Variables: Match.objectLike({
        TASKGATE_DRIVER: 'ec2', TASKGATE_EC2_SUBNET_ID: EC2.subnetId, TASKGATE_EC2_STACK_TAG: 'Test',
        TASKGATE_EC2_INSTANCE_TYPES: JSON.stringify(EC2.instanceTypes), QUEUE_URL: Match.anyValue(),
      }) },
    });
  });

  test('the API refuses what EC2 cannot do and reads consoles only of the stack\'s instances', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'taskgate Nova API',
      Environment: { Variables: Match.objectLike({ TASKGATE_DRIVER: 'ec2', TASKGATE_EC2_STACK_TAG: 'Test' }) },
    });
    const api = statementsOf(template, /^ApiFunction/).filter((s) => actionsOf(s).some((a) => a.startsWith('ec2:')));
    expect(api.map((s) => [actionsOf(s), s.Condition ?? null])).toEqual([
      [['ec2:DescribeInstances'], null],
      [['ec2:GetConsoleOutput'], { StringEquals: { 'aws:ResourceTag/taskgate:stack': 'Test' } }],
    ]);
  });

  test('every EC2 action that changes something names a tag condition or a configured resource', () => {
    const mutating = compute.filter((s) => actionsOf(s).some((a) => MUTATING.test(a)));
    expect(mutating.length).toBeGreaterThan(3);
    for (const s of mutating) {
      const conditioned = JSON.stringify(s.Condition ?? {});
      const onWildcards = JSON.stringify(s.Resource).includes('/*');
      if (onWildcards && s.Sid !== 'ReplaceRootVolume') expect(conditioned).toMatch(/aws:(Resource|Request)Tag\/taskgate:stack/);
      expect(actionsOf(s)).not.toContain('ec2:*');
    }
    const run = compute.find((s) => s.Sid === 'RunTaggedInstances')!;
    expect(run.Condition).toEqual({ StringEquals: { 'aws:RequestTag/taskgate:stack': 'Test' } });
    const operate = compute.find((s) => s.Sid === 'OperateTaggedInstances')!;
    expect(operate.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/taskgate:stack': 'Test' } });
    expect(actionsOf(operate)).toEqual(expect.arrayContaining(['ec2:StopInstances', 'ec2:TerminateInstances', 'ec2:ModifyInstanceAttribute']));
  });

  test('only Describe* is on every resource, and iam:PassRole only on the instance role, only to EC2', () => {
    const everywhere = compute.filter((s) => JSON.stringify(s.Resource) === '"*"').flatMap(actionsOf);
    expect(everywhere.filter((a) => a.startsWith('ec2:')).every((a) => a.startsWith('ec2:Describe'))).toBe(true);
    const pass = compute.filter((s) => actionsOf(s).includes('iam:PassRole'));
    expect(pass).toEqual([expect.objectContaining({
      Resource: EC2.instanceRoleArn, Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    })]);
  });

  test('EC2\'s state-change events and a schedule reach the drift function', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['running', 'stopped', 'terminated'] } },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [stack.getLogicalId(stack.ec2!.drift.fn.node.defaultChild as never), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [stack.getLogicalId(stack.ec2!.drift.fn.node.defaultChild as never), 'Arn'] } })],
    });
    const drift = statementsOf(template, /^Ec2DriverDriftFunction/);
    expect(drift.flatMap(actionsOf).filter((a) => a.startsWith('ec2:'))).toEqual(['ec2:DescribeInstances']);
  });

  test('cdk-nag finds nothing unacknowledged', () => {
    const violations = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack).violations
      .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(violations).toEqual([]);
  });

  test('a bad setting fails the synth, naming it', () => {
    expect(() => synth({ ec2: { ...EC2, subnetId: 'subnet-nope' } })).toThrow(/TASKGATE_EC2_SUBNET_ID/);
    expect(() => synth({ ec2: { ...EC2, amis: { x: 'not-an-ami' } } })).toThrow(/TASKGATE_EC2_AMIS/);
    expect(() => synth({ ec2: EC2, timings: { maxReceiveCount: 2 } })).toThrow(/TASKGATE_MAX_RECEIVE_COUNT must be 3 or more with TASKGATE_DRIVER=ec2/);
  });
});

test('without it the stack grants no EC2 action and runs the simulated driver', () => {
  const { template } = synth();
  expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toMatch(/"ec2:/);
  template.hasResourceProperties('AWS::Lambda::Function', {
    Description: 'taskgate compute worker', Environment: { Variables: Match.objectLike({ TASKGATE_DRIVER: 'simulated' }) },
  });
});
