import { App, Validations } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Ec2DriverProps } from '../lib/ec2Compute.js';
import { TaskgateStack, type StackAuth } from '../lib/taskgateStack.js';

// `cdk synth` / `cdk deploy`: the stack, configured by context (-c key=value or cdk.json), and
// cdk-nag's AwsSolutions pack over it: an unsuppressed finding is an error and fails the synth.

const app = new App();
const ctx = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === null || value === '' ? undefined : String(value);
};
const number = (key: string) => (ctx(key) === undefined ? undefined : Number(ctx(key)));

// Identity: no default. -c auth=keystone -c keystoneUrl=https://.../v3 [-c keystoneSecretArn=...],
// -c auth=jwt -c cognito=true (a user pool made by the stack), -c auth=jwt -c jwtIssuer=... -c jwtAudience=...
// [-c jwtJwksUrl -c jwtProjectClaim -c jwtRolesClaim -c jwtRolesSeparator -c jwtAudienceClaim=client_id]
// (any OIDC issuer), or -c auth=noauth (development only).
function stackAuth(): StackAuth {
  const required = (key: string) => ctx(key) ?? (() => { throw new Error(`-c auth=${ctx('auth')} needs -c ${key}=...`); })();
  switch (ctx('auth')) {
    case 'noauth': return { mode: 'noauth' };
    case 'keystone': return { mode: 'keystone', keystoneUrl: required('keystoneUrl'), serviceSecretArn: ctx('keystoneSecretArn') };
    case 'jwt': return ctx('cognito') === 'true' ? { mode: 'jwt', cognito: true } : {
      mode: 'jwt', issuer: required('jwtIssuer'), audience: required('jwtAudience'), jwksUrl: ctx('jwtJwksUrl'),
      projectClaim: ctx('jwtProjectClaim'), rolesClaim: ctx('jwtRolesClaim'), rolesSeparator: ctx('jwtRolesSeparator'),
      audienceClaim: ctx('jwtAudienceClaim') === 'client_id' ? 'client_id' : undefined,
    };
    default:
      throw new Error('taskgate refuses to synthesize without an identity mode: pass -c auth=keystone (with -c keystoneUrl=...), '
        + '-c auth=jwt -c cognito=true, -c auth=jwt (with -c jwtIssuer=... -c jwtAudience=...), or, for development only, -c auth=noauth');
  }
}

// -c domainName=compute.example.com -c certificateArn=arn:aws:acm:...: both or neither.
function customDomain() {
  const domainName = ctx('domainName');
  const certificateArn = ctx('certificateArn');
  if (!domainName && !certificateArn) return undefined;
  if (!domainName || !certificateArn) throw new Error('a custom domain needs both -c domainName=... and -c certificateArn=... (an ACM certificate in the stack\'s region)');
  return { domainName, certificateArn };
}

// -c driver=ec2 -c ec2SubnetId=subnet-... -c ec2SecurityGroupIds=sg-...,sg-... -c ec2InstanceTypes='{"1":"t3.micro"}'
// -c ec2Amis='{"<image id>":"ami-..."}' [-c ec2InstanceProfileArn=... -c ec2InstanceRoleArn=... -c ec2KeyName=...
// -c ec2Volumes='{...}' -c ec2NetworkInterfaces='{...}'] (docs/ec2.md). Without it: the simulated driver.
function ec2Driver(): Ec2DriverProps | undefined {
  const driver = ctx('driver') ?? 'simulated';
  if (driver === 'simulated') return undefined;
  if (driver !== 'ec2') throw new Error(`-c driver must be simulated or ec2, not ${JSON.stringify(driver)}`);
  const required = (key: string) => ctx(key) ?? (() => { throw new Error(`-c driver=ec2 needs -c ${key}=...`); })();
  const map = (key: string, need = false) => {
    const raw = need ? required(key) : ctx(key);
    if (raw === undefined) return undefined;
    try { return JSON.parse(raw) as Record<string, string>; } catch { throw new Error(`-c ${key} must be a JSON object, e.g. '{"1":"t3.micro"}'`); }
  };
  return {
    subnetId: required('ec2SubnetId'), securityGroupIds: required('ec2SecurityGroupIds').split(','),
    instanceProfileArn: ctx('ec2InstanceProfileArn'), instanceRoleArn: ctx('ec2InstanceRoleArn'), keyName: ctx('ec2KeyName'),
    instanceTypes: map('ec2InstanceTypes', true)!, amis: map('ec2Amis', true)!,
    ebsVolumes: map('ec2Volumes'), networkInterfaces: map('ec2NetworkInterfaces'),
    reconcileMinutes: number('ec2ReconcileMinutes'),
  };
}

// -c api=rest (the default) or -c api=http: which API Gateway API serves the endpoint (docs/costs.md).
function apiType(): 'rest' | 'http' {
  const api = ctx('api') ?? 'rest';
  if (api !== 'rest' && api !== 'http') throw new Error(`-c api must be rest or http, not ${JSON.stringify(api)}`);
  return api;
}

new TaskgateStack(app, ctx('stackName') ?? 'Taskgate', {
  auth: stackAuth(),
  apiType: apiType(),
  // Environment-agnostic: no lookups, so the same template deploys to any account and region.
  deletionProtection: ctx('deletionProtection') !== 'false',
  apiStageName: ctx('apiStageName'),
  computeMaxConcurrency: number('computeMaxConcurrency'),
  // Validated and derived in functions/core/shared/config.ts; a bad combination fails the synth.
  timings: {
    apiTimeoutSeconds: number('apiTimeoutSeconds'),
    computeTimeoutSeconds: number('computeTimeoutSeconds'),
    visibilityTimeoutSeconds: number('visibilityTimeoutSeconds'),
    maxReceiveCount: number('maxReceiveCount'),
    leaseMarginSeconds: number('leaseMarginSeconds'),
    sweepIntervalSeconds: number('sweepIntervalSeconds'),
  },
  driverStepMs: number('driverStepMs'),
  // -c computeHosts='[{"name":"c0","vcpus":8,"ram":16384,"disk":500}]' (docs/placement.md).
  computeHosts: ctx('computeHosts'),
  // -c projectSpread='{"<project id>":{"listingPartitions":16,"usageSlices":32}}' (docs/write-units.md).
  projectSpread: ctx('projectSpread'),
  ec2: ec2Driver(),
  lambdaRuntime: ctx('lambdaRuntime') ? Runtime.ALL.find((r) => r.name === ctx('lambdaRuntime')) ?? new Runtime(ctx('lambdaRuntime')!) : undefined,
  alarmTopicArn: ctx('alarmTopicArn'),
  webAclArn: ctx('webAclArn'),
  publicUrl: ctx('publicUrl'),
  apiGatewayCloudWatchRole: ctx('apiGatewayCloudWatchRole') === 'true',
  customDomain: customDomain(),
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
