import { Match } from 'aws-cdk-lib/assertions';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import { INDEX_ALL_SERVERS, INDEX_BY_LEASE, INDEX_BY_PROJECT } from '../../functions/core/shared/table.js';
import { createTable } from '../../local/emulators.js';
import { EVENT_SOURCE_ACTIONS } from '../../lib/access.js';
import { CLAIMS_RELEASED } from '../../lib/alarms.js';
import { timingsEnv, VISIBILITY_TIMEOUT_FACTOR } from '../../functions/core/shared/config.js';
import { TTL_ATTRIBUTE } from '../../lib/table.js';
import type { TaskgateStack } from '../../lib/taskgateStack.js';
import { logicalId, synth } from './synth.js';

// Assertions over the synthesized template: each resource the issue asks for, with the
// properties that make the design hold (FIFO per instance, dead letters, partial batch
// failures, leases against timeouts, least privilege, alarms).

const { stack, template } = synth();
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any; DeletionPolicy?: string; DependsOn?: string[] }>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const fnId = (name: Exclude<keyof TaskgateStack['functions'], 'authorizer'>) => logicalId(stack, stack.functions[name].fn);
const fnProps = (name: Exclude<keyof TaskgateStack['functions'], 'authorizer'>) => resources[fnId(name)]!.Properties;
const queueId = logicalId(stack, stack.queues.queue);
const dlqId = logicalId(stack, stack.queues.deadLetterQueue);
const tableId = logicalId(stack, stack.table.table);
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const logGroupArn = (id: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: id }]],
});

describe('table', () => {
  const table = resources[tableId]!;

  it('is on-demand, with point-in-time recovery, TTL, deletion protection, and retained', () => {
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
  });

  it('has exactly the keys and indexes of the table the tests run against (local/emulators.ts)', async () => {
    let input: CreateTableCommandInput | undefined;
    const fake = { send: async (cmd: { input: CreateTableCommandInput }) => { input ??= cmd.input; return { Table: { TableStatus: 'ACTIVE' } }; } };
    await createTable(fake as never, 'taskgate');
    const byName = <T extends { AttributeName?: string; IndexName?: string }>(xs: readonly T[] = []) =>
      [...xs].sort((a, b) => String(a.AttributeName ?? a.IndexName).localeCompare(String(b.AttributeName ?? b.IndexName)));
    expect(table.Properties.KeySchema).toEqual(input!.KeySchema);
    expect(byName(table.Properties.AttributeDefinitions)).toEqual(byName(input!.AttributeDefinitions));
    expect(byName(table.Properties.GlobalSecondaryIndexes)).toEqual(byName(input!.GlobalSecondaryIndexes));
    expect(table.Properties.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName).sort())
      .toEqual([INDEX_ALL_SERVERS, INDEX_BY_LEASE, INDEX_BY_PROJECT].sort());
  });

  it('drops deletion protection and retention only when asked (throwaway stacks)', () => {
    const dev = synth({ deletionProtection: false });
    const devTable = dev.template.toJSON().Resources[logicalId(dev.stack, dev.stack.table.table)];
    expect(devTable.Properties.DeletionProtectionEnabled).toBe(false);
    expect(devTable.DeletionPolicy).toBe('Delete');
  });
});

describe('queues', () => {
  const queue = resources[queueId]!.Properties;
  const dlq = resources[dlqId]!.Properties;

  it('is FIFO in high-throughput mode, deduplicated by the request id the API sends', () => {
    expect(queue).toMatchObject({
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      ContentBasedDeduplication: false,
    });
  });

  it('dead-letters into a FIFO queue after maxReceiveCount deliveries', () => {
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(dlqId), maxReceiveCount: 5 });
    expect(dlq.FifoQueue).toBe(true);
    expect(dlq.RedrivePolicy).toBeUndefined();
    expect(dlq.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it('keeps a message invisible at least six times the consuming function timeout', () => {
    expect(VISIBILITY_TIMEOUT_FACTOR).toBeGreaterThanOrEqual(6);
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fnProps('compute').Timeout);
    expect(dlq.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fnProps('deadLetter').Timeout);
  });

  it('is encrypted and refuses requests without TLS', () => {
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    for (const id of [queueId, dlqId]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]) },
      });
    }
  });
});

describe('event source mappings', () => {
  it('feeds the compute function from the queue with partial batch failures and a concurrency cap', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(queueId),
      FunctionName: { Ref: fnId('compute') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 50 },
    });
  });

  it('feeds the dead-letter function from the dead-letter queue, also reporting partial failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(dlqId),
      FunctionName: { Ref: fnId('deadLetter') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(ofType('AWS::Lambda::EventSourceMapping')).toHaveLength(2);
  });
});

describe('functions', () => {
  const names = ['api', 'compute', 'sweeper', 'deadLetter'] as const;

  it('are the four handlers, arm64, Node.js 22 or newer, JSON logs in their own log group, traced', () => {
    expect(ofType('AWS::Lambda::Function')).toHaveLength(4);
    for (const name of names) {
      const p = fnProps(name);
      expect(p.Architectures).toEqual(['arm64']);
      expect(Number(/^nodejs(\d+)\.x$/.exec(p.Runtime)?.[1])).toBeGreaterThanOrEqual(22);
      expect(p.Handler).toBe('index.handler');
      expect(p.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: { Ref: logicalId(stack, stack.functions[name].logGroup) } });
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.Environment.Variables.TABLE_NAME).toEqual({ Ref: tableId });
    }
  });

  it('get every environment variable their entry reads', () => {
    const dirs = { api: 'api', compute: 'compute', sweeper: 'sweeper', deadLetter: 'dlq' } as const;
    const reads = (file: string) => [...readFileSync(new URL(`../../functions/${file}`, import.meta.url), 'utf8')
      .matchAll(/process\.env\.([A-Z_]+)/g)].map((m) => m[1]!);
    for (const name of names) {
      const needed = new Set([...reads(`${dirs[name]}/handler.ts`), ...reads('core/shared/table.ts')]);
      expect(Object.keys(fnProps(name).Environment.Variables)).toEqual(expect.arrayContaining([...needed]));
    }
    expect(fnProps('api').Environment.Variables.QUEUE_URL).toEqual({ Ref: queueId });
  });

  it('all read one set of durations, the one the queue is built with', () => {
    const expected = timingsEnv(stack.settings.timings);
    for (const name of ['api', 'compute'] as const) {
      expect(fnProps(name).Environment.Variables).toMatchObject(expected);
    }
    expect(fnProps('compute').Timeout).toBe(stack.settings.timings.computeTimeoutSeconds);
    expect(resources[queueId]!.Properties.VisibilityTimeout).toBe(stack.settings.timings.visibilityTimeoutSeconds);
  });

  it('answer API Gateway within its 29 s integration timeout', () => {
    expect(fnProps('api').Timeout).toBeLessThan(29);
  });

  it('run the sweeper every minute from an EventBridge schedule', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: arnOf(fnId('sweeper')) })],
    });
  });
});

describe('IAM: each function gets only the actions its code calls, on named resources', () => {
  const roleId = (name: Exclude<keyof TaskgateStack['functions'], 'authorizer'>) => logicalId(stack, stack.functions[name].role);
  const statementsOf = (name: Exclude<keyof TaskgateStack['functions'], 'authorizer'>) => ofType('AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId(name)))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Effect: string }[]);
  const actions = (s: { Action: string | string[] }) => [...(Array.isArray(s.Action) ? s.Action : [s.Action])].sort();
  const tableArn = arnOf(tableId);
  const indexArn = (name: string) => ({ 'Fn::Join': ['', [tableArn, `/index/${name}`]] });
  const grants = (name: Exclude<keyof TaskgateStack['functions'], 'authorizer'>, prefix: string) =>
    statementsOf(name).filter((s) => actions(s).every((a) => a.startsWith(prefix))).map((s) => ({ actions: actions(s), resource: s.Resource }));
  const item = (...a: string[]) => a.map((x) => `dynamodb:${x}`).sort();

  it('uses no managed policy (not even AWSLambdaBasicExecutionRole) and no wildcard action', () => {
    for (const name of ['api', 'compute', 'sweeper', 'deadLetter'] as const) {
      expect(resources[roleId(name)]!.Properties.ManagedPolicyArns).toBeUndefined();
      for (const s of statementsOf(name)) {
        expect(s.Effect).toBe('Allow');
        for (const a of actions(s)) expect(a).not.toMatch(/\*/);
        // Resource "*" only where the service has no resource-level permissions (X-Ray).
        if (s.Resource === '*') expect(actions(s)).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      }
    }
  });

  it('lets each function write only its own log group', () => {
    for (const name of ['api', 'compute', 'sweeper', 'deadLetter'] as const) {
      const logs = grants(name, 'logs:');
      expect(logs).toHaveLength(1);
      expect(logs[0]!.actions).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(JSON.stringify(logs[0]!.resource)).toContain(logicalId(stack, stack.functions[name].logGroup));
    }
  });

  it('API: item reads and writes, BatchGetItem (a listing\'s items), Query on the table, the project index and the all-servers index, SendMessage', () => {
    expect(grants('api', 'dynamodb:')).toEqual([
      { actions: item('GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'), resource: tableArn },
      { actions: ['dynamodb:Query'], resource: [indexArn(INDEX_ALL_SERVERS), indexArn(INDEX_BY_PROJECT)] },
    ]);
    expect(grants('api', 'sqs:')).toEqual([{ actions: ['sqs:SendMessage'], resource: arnOf(queueId) }]);
  });

  it('compute: item reads and writes, Query and ConditionCheckItem (its fenced image write) on the table, no index; consumes the queue', () => {
    expect(grants('compute', 'dynamodb:')).toEqual([
      { actions: item('GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'ConditionCheckItem'), resource: tableArn },
    ]);
    expect(grants('compute', 'sqs:')).toEqual([{ actions: [...EVENT_SOURCE_ACTIONS].sort(), resource: arnOf(queueId) }]);
  });

  it('sweeper: Query on the lease index only, then reads, releases and undoes; no queue', () => {
    expect(grants('sweeper', 'dynamodb:')).toEqual([
      { actions: item('GetItem', 'UpdateItem', 'DeleteItem'), resource: tableArn },
      { actions: ['dynamodb:Query'], resource: indexArn(INDEX_BY_LEASE) },
    ]);
    expect(grants('sweeper', 'sqs:')).toEqual([]);
  });

  it('dead-letter: reads, releases and undoes; consumes the dead-letter queue only', () => {
    expect(grants('deadLetter', 'dynamodb:')).toEqual([
      { actions: item('GetItem', 'UpdateItem', 'DeleteItem'), resource: tableArn },
    ]);
    expect(grants('deadLetter', 'sqs:')).toEqual([{ actions: [...EVENT_SOURCE_ACTIONS].sort(), resource: arnOf(dlqId) }]);
  });

  it('creates each event source mapping only after its function (and so its role policy) exists', () => {
    for (const name of ['compute', 'deadLetter'] as const) {
      const fn = resources[fnId(name)]!;
      const policyId = ofType('AWS::IAM::Policy').find(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId(name)))![0];
      expect(fn.DependsOn).toContain(policyId);
    }
  });
});

describe('API Gateway', () => {
  it('is a regional REST API proxying every path to the API function', () => {
    expect(ofType('AWS::ApiGateway::RestApi')).toHaveLength(1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    const proxies = ofType('AWS::ApiGateway::Method');
    expect(proxies).toHaveLength(2);
    for (const [, m] of proxies) {
      expect(m.Properties.HttpMethod).toBe('ANY');
      expect(m.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(m.Properties.Integration.Uri)).toContain(fnId('api'));
    }
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
  });

  it('leaves API Gateway\'s account-wide logging role alone unless asked to create it', () => {
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    const withRole = synth({ apiGatewayCloudWatchRole: true }).template;
    withRole.resourceCountIs('AWS::ApiGateway::Account', 1);
    withRole.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })] }),
    });
  });

  it('outputs one URL: the Nova v2.1 endpoint', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const urls = Object.entries(outputs).filter(([, o]) => JSON.stringify(o.Value).includes('execute-api'));
    expect(urls.map(([name]) => name)).toEqual(['ApiUrl']);
    expect(JSON.stringify(urls[0]![1].Value)).toMatch(/\/v2\.1"\]\]\}$/);
  });

  it('has a stage with throttling, JSON access logs, execution logs without bodies, and tracing', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'compute',
      TracingEnabled: true,
      // Without the `:*` a GetAtt gives (cdk.json: @aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard).
      AccessLogSetting: { DestinationArn: logGroupArn(logicalId(stack, stack.api!.accessLogs)), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: [Match.objectLike({
        HttpMethod: '*', ResourcePath: '/*',
        ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200,
        LoggingLevel: 'ERROR', DataTraceEnabled: false,
      })],
    });
  });
});

describe('alarms', () => {
  const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const single = (metricName: string, dims?: unknown) => alarms.filter((a) => a.MetricName === metricName
    && (dims === undefined || JSON.stringify(a.Dimensions) === JSON.stringify(dims)));

  it('fires on any message in the dead-letter queue', () => {
    const dlq = alarms.filter((a) => JSON.stringify(a.Metrics ?? []).includes('ApproximateNumberOfMessagesVisible'));
    expect(dlq).toHaveLength(1);
    expect(JSON.stringify(dlq[0].Metrics)).toContain(`"Fn::GetAtt":["${dlqId}","QueueName"]`);
    expect(dlq[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it('fires when the oldest queued operation waits too long, but not on a single retried message', () => {
    const age = single('ApproximateAgeOfOldestMessage', [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }]);
    expect(age).toHaveLength(1);
    expect(age[0].Threshold).toBeLessThan(stack.settings.timings.claimLeaseSeconds);
    // ...and not on a single retried message, which waits one visibility timeout.
    expect(age[0].Threshold).toBeGreaterThan(resources[queueId]!.Properties.VisibilityTimeout);
  });

  it('fires on errors and on throttles of each function', () => {
    for (const name of ['api', 'compute', 'sweeper', 'deadLetter'] as const) {
      const dims = [{ Name: 'FunctionName', Value: { Ref: fnId(name) } }];
      expect(single('Errors', dims)).toHaveLength(1);
      expect(single('Throttles', dims)).toHaveLength(1);
    }
  });

  it('fires when the sweeper released claims, from the metric the sweeper emits', () => {
    const released = single(CLAIMS_RELEASED.metricName);
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({
      Namespace: 'taskgate', Dimensions: [{ Name: 'service', Value: 'taskgate' }], Statistic: 'Sum', Threshold: 1,
    });
  });

  it('notify a given SNS topic, and a web ACL is associated when given', () => {
    const topic = 'arn:aws:sns:us-east-1:111111111111:ops';
    const webAcl = 'arn:aws:wafv2:us-east-1:111111111111:regional/webacl/taskgate/abc';
    const wired = synth({ alarmTopicArn: topic, webAclArn: webAcl });
    const all = Object.values(wired.template.toJSON().Resources as Record<string, { Type: string; Properties: any }>)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(all).toHaveLength(alarms.length);
    for (const a of all) expect(a.Properties).toMatchObject({ AlarmActions: [topic], OKActions: [topic] });
    wired.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: webAcl });
    for (const a of alarms) expect(a.AlarmActions).toBeUndefined();
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });
});
