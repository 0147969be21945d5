import { Duration, Stack, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import type { Runtime } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ec2Settings, type Ec2Settings } from '../functions/core/shared/config.js';
import { TagKeys } from '../functions/core/compute/ec2/tags.js';
import { grantSend, grantTable } from './access.js';
import type { OperationsTable } from './table.js';
import { TaskgateFunction } from './taskgateFunction.js';

/** `-c driver=ec2`: where instances go and how taskgate's ids map to EC2's (bin/app.ts reads them). */
export interface Ec2DriverProps {
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  /** The instance profile the instances get, and the role in it (what iam:PassRole is granted on). */
  readonly instanceProfileArn?: string;
  readonly instanceRoleArn?: string;
  readonly keyName?: string;
  readonly instanceTypes: Readonly<Record<string, string>>;
  readonly amis: Readonly<Record<string, string>>;
  readonly ebsVolumes?: Readonly<Record<string, string>>;
  readonly networkInterfaces?: Readonly<Record<string, string>>;
  /** How often the reconcile looks for drift no event reported. Default 10 minutes. */
  readonly reconcileMinutes?: number;
}

export interface Ec2ComputeProps {
  readonly driver: Ec2DriverProps;
  readonly compute: TaskgateFunction;
  /** The API function: it reads the guest console from EC2 (os-getConsoleOutput). */
  readonly api: TaskgateFunction;
  readonly queue: IQueue;
  readonly table: OperationsTable;
  readonly common: { readonly runtime?: Runtime; readonly logRetention: RetentionDays; readonly logRemovalPolicy: RemovalPolicy };
  /** The operations queue's redrive maxReceiveCount: the EC2 driver needs 3 or more (config.ts). */
  readonly maxReceiveCount: number;
}

/** The variables that carry the EC2 driver's settings to a function (read back by config.ts ec2Settings). */
export function ec2Environment(d: Ec2DriverProps, stackTag: string): Record<string, string> {
  const json = (m: Readonly<Record<string, string>> | undefined) => JSON.stringify(m ?? {});
  return {
    TASKGATE_EC2_SUBNET_ID: d.subnetId,
    TASKGATE_EC2_SECURITY_GROUP_IDS: d.securityGroupIds.join(','),
    ...(d.instanceProfileArn ? { TASKGATE_EC2_INSTANCE_PROFILE_ARN: d.instanceProfileArn } : {}),
    ...(d.keyName ? { TASKGATE_EC2_KEY_NAME: d.keyName } : {}),
    TASKGATE_EC2_STACK_TAG: stackTag,
    TASKGATE_EC2_INSTANCE_TYPES: json(d.instanceTypes),
    TASKGATE_EC2_AMIS: json(d.amis),
    TASKGATE_EC2_VOLUMES: json(d.ebsVolumes),
    TASKGATE_EC2_NETWORK_INTERFACES: json(d.networkInterfaces),
  };
}

const DESCRIBE_REASON = 'X-Ray\'s PutTraceSegments and PutTelemetryRecords, and EC2\'s Describe* actions, support no resource-level permissions or tag conditions: Resource "*" is '
  + 'the narrowest there is. Every action that changes anything is limited to this stack\'s tag or to the configured ARNs.';
const wildcard = (resource: string) => ({
  id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:${resource}/*]`,
  reason: `EC2 makes ${resource}s at run time with ids nobody knows before: the ARN names the resource type, and the `
    + 'statement is conditioned on the taskgate:stack tag (aws:ResourceTag, or aws:RequestTag when the call makes it).',
});

/** AMIs and EBS snapshots: their ARNs name no account. */
const accountless = (resource: string) => ({
  ...wildcard(resource), id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>::${resource}/*]`,
});

/** The cdk-nag findings the EC2 driver's roles accept, each with its reason. */
export const EC2_ACCEPTED_FINDINGS = [
  { id: 'AwsSolutions-IAM5[Resource::*]', reason: DESCRIBE_REASON },
  wildcard('instance'), wildcard('volume'), wildcard('network-interface'), wildcard('replace-root-volume-task'),
  accountless('image'), accountless('snapshot'),
] as const;

/**
 * The EC2 driver's part of the stack: the compute function switched to it, its EC2 permissions
 * (only on what carries this stack's tag, or is named by the configuration), and the drift
 * function fed by EC2's state-change events and a reconcile schedule.
 */
export class Ec2Compute extends Construct {
  readonly settings: Ec2Settings;
  readonly drift: TaskgateFunction;
  readonly stateChanges: Rule;
  readonly reconcileSchedule: Rule;

  constructor(scope: Construct, id: string, props: Ec2ComputeProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const stackTag = stack.stackName;
    const environment = ec2Environment(props.driver, stackTag);
    // A bad subnet id or AMI map fails the synth here, not the first operation.
    this.settings = ec2Settings({ ...environment, TASKGATE_MAX_RECEIVE_COUNT: String(props.maxReceiveCount) });
    if (this.settings.instanceProfileArn && !props.driver.instanceRoleArn) {
      throw new Error('-c ec2InstanceProfileArn needs -c ec2InstanceRoleArn: the role in it is what the compute function may pass');
    }

    const { compute } = props;
    compute.fn.addEnvironment('TASKGATE_DRIVER', 'ec2');
    // Resumption sends a fresh copy of a message that waited long (functions/core/compute/resumption.ts).
    compute.fn.addEnvironment('QUEUE_URL', props.queue.queueUrl);
    for (const [name, value] of Object.entries(environment)) compute.fn.addEnvironment(name, value);
    grantSend(compute.role, props.queue);

    const arn = (resource: string) => stack.formatArn({ service: 'ec2', resource, resourceName: '*' });
    const named = (resource: string, ids: readonly string[]) => ids.map((i) => stack.formatArn({ service: 'ec2', resource, resourceName: i }));
    const imageArns = [...new Set(Object.values(this.settings.amis))].map((ami) => stack.formatArn({ service: 'ec2', account: '', resource: 'image', resourceName: ami }));
    // AMIs' and snapshots' ARNs name no account.
    const imagesAndSnapshots = ['image', 'snapshot'].map((resource) => stack.formatArn({ service: 'ec2', account: '', resource, resourceName: '*' }));
    const tagged = { StringEquals: { [`aws:ResourceTag/${TagKeys.stack}`]: stackTag } };
    const tagging = { StringEquals: { [`aws:RequestTag/${TagKeys.stack}`]: stackTag } };
    const add = (s: PolicyStatement) => compute.role.addToPrincipalPolicy(s);

    // RunInstances: what it makes only with this stack's tag; what it uses only as configured.
    add(new PolicyStatement({
      sid: 'RunTaggedInstances', actions: ['ec2:RunInstances'],
      resources: [arn('instance'), arn('volume'), arn('network-interface')], conditions: tagging,
    }));
    add(new PolicyStatement({
      sid: 'RunFromConfigured', actions: ['ec2:RunInstances'],
      resources: [
        ...imageArns, ...named('subnet', [this.settings.subnetId]), ...named('security-group', this.settings.securityGroupIds),
        ...(this.settings.keyName ? named('key-pair', [this.settings.keyName]) : []),
      ],
    }));
    // Tags only as part of the call that makes the resource.
    add(new PolicyStatement({
      sid: 'TagOnCreate', actions: ['ec2:CreateTags'],
      resources: [arn('instance'), arn('volume'), arn('network-interface'), arn('replace-root-volume-task'), ...imagesAndSnapshots],
      conditions: { StringEquals: { 'ec2:CreateAction': ['RunInstances', 'CreateReplaceRootVolumeTask', 'CreateImage'], [`aws:RequestTag/${TagKeys.stack}`]: stackTag } },
    }));
    // A reboot marks its instance between the stop and the start (tags.ts restarted); that tag only.
    add(new PolicyStatement({
      sid: 'MarkReboot', actions: ['ec2:CreateTags'], resources: [arn('instance')],
      conditions: { ...tagged, 'ForAllValues:StringEquals': { 'aws:TagKeys': [TagKeys.restarted] } },
    }));
    add(new PolicyStatement({
      sid: 'OperateTaggedInstances',
      actions: [
        'ec2:StartInstances', 'ec2:StopInstances', 'ec2:RebootInstances', 'ec2:TerminateInstances', 'ec2:ModifyInstanceAttribute',
        'ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface',
        'ec2:CreateReplaceRootVolumeTask', 'ec2:SendDiagnosticInterrupt', 'ec2:GetConsoleOutput',
      ],
      resources: [arn('instance')], conditions: tagged,
    }));
    // createImage and createBackup: an AMI (and its snapshots) of a tagged instance, made with the
    // stack's tag; a backup's rotation deregisters and deletes only what carries it.
    add(new PolicyStatement({ sid: 'ImageTaggedInstances', actions: ['ec2:CreateImage'], resources: [arn('instance')], conditions: tagged }));
    add(new PolicyStatement({
      sid: 'MakeTaggedImages', actions: ['ec2:CreateImage'],
      resources: imagesAndSnapshots,
      conditions: tagging,
    }));
    add(new PolicyStatement({
      sid: 'RotateTaggedImages', actions: ['ec2:DeregisterImage', 'ec2:DeleteSnapshot'],
      resources: imagesAndSnapshots,
      conditions: tagged,
    }));
    // Volumes and interfaces the operator made and tagged with the stack's name (docs/ec2.md).
    add(new PolicyStatement({
      sid: 'AttachTaggedVolumesAndInterfaces',
      actions: ['ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:AttachNetworkInterface', 'ec2:DetachNetworkInterface'],
      resources: [arn('volume'), arn('network-interface')], conditions: tagged,
    }));
    add(new PolicyStatement({
      sid: 'ReplaceRootVolume', actions: ['ec2:CreateReplaceRootVolumeTask'],
      resources: [arn('replace-root-volume-task'), arn('volume'), ...imageArns],
    }));
    add(new PolicyStatement({
      sid: 'Describe',
      actions: [
        'ec2:DescribeInstances', 'ec2:DescribeVolumes', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeReplaceRootVolumeTasks',
        'ec2:DescribeImages', 'ec2:DescribeSnapshots',
      ],
      resources: ['*'],
    }));
    if (props.driver.instanceRoleArn) {
      add(new PolicyStatement({
        sid: 'PassInstanceRole', actions: ['iam:PassRole'], resources: [props.driver.instanceRoleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }));
    }

    // os-getConsoleOutput: the API finds the server's instance by its tags and reads its console.
    props.api.fn.addEnvironment('TASKGATE_EC2_STACK_TAG', stackTag);
    if (this.settings.endpoint) props.api.fn.addEnvironment('TASKGATE_EC2_ENDPOINT', this.settings.endpoint);
    props.api.role.addToPrincipalPolicy(new PolicyStatement({ sid: 'Describe', actions: ['ec2:DescribeInstances'], resources: ['*'] }));
    props.api.role.addToPrincipalPolicy(new PolicyStatement({
      sid: 'ReadTaggedConsoles', actions: ['ec2:GetConsoleOutput'], resources: [arn('instance')], conditions: tagged,
    }));

    this.drift = new TaskgateFunction(this, 'DriftFunction', {
      ...props.common, handlerDir: 'drift', description: 'taskgate: EC2 state changes made outside taskgate',
      timeout: Duration.seconds(60),
      environment: { TABLE_NAME: props.table.table.tableName, ...environment },
    });
    grantTable(this.drift.role, props.table, ['UpdateItem']);
    this.drift.role.addToPrincipalPolicy(new PolicyStatement({ sid: 'Describe', actions: ['ec2:DescribeInstances'], resources: ['*'] }));

    this.stateChanges = new Rule(this, 'StateChanges', {
      description: 'taskgate: EC2 instances started, stopped or terminated, by anyone',
      eventPattern: {
        source: ['aws.ec2'], detailType: ['EC2 Instance State-change Notification'],
        detail: { state: ['running', 'stopped', 'terminated'] },
      },
      targets: [new LambdaFunction(this.drift.fn, { retryAttempts: 2 })],
    });
    this.reconcileSchedule = new Rule(this, 'Reconcile', {
      description: 'taskgate: reconcile servers with EC2 for state changes no event reported',
      schedule: Schedule.rate(Duration.minutes(props.driver.reconcileMinutes ?? 10)),
      targets: [new LambdaFunction(this.drift.fn, { retryAttempts: 0 })],
    });

    const accepted = (role: Role) => EC2_ACCEPTED_FINDINGS.filter((f) => role === compute.role || f.id.includes('Resource::*')
      || (role === props.api.role && f.id.endsWith(':instance/*]')));
    for (const role of [compute.role, props.api.role, this.drift.role]) Validations.of(role).acknowledge(...accepted(role));
  }
}
