import { AwsSolutionsChecks } from 'cdk-nag';
import { COGNITO_CLAIMS, COGNITO_GROUPS } from '../../lib/userPool.js';
import { logicalId, synth } from './synth.js';

// The deploy options of docs/deploying.md, as synthesized: Keystone's secret named in an output,
// JWT mode's own Cognito user pool (-c cognito=true), a custom domain; each cdk-nag clean.

const violationsOf = (scope: Parameters<AwsSolutionsChecks['validateScope']>[0]) =>
  new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(scope).violations
    .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);

type Resources = Record<string, { Type: string; Properties: any; DeletionPolicy?: string }>;
const ofType = (resources: Resources, type: string) => Object.values(resources).filter((r) => r.Type === type);

describe('Keystone mode', () => {
  it('names the secret it made in the KeystoneSecretArn output, readable by the authorizer alone', () => {
    const { stack, template } = synth({ auth: { mode: 'keystone', keystoneUrl: 'https://keystone.example.com/v3' } });
    const secretId = logicalId(stack, stack.keystoneSecret as never);
    expect(template.toJSON().Outputs.KeystoneSecretArn.Value).toEqual({ Ref: secretId });
    const env = template.toJSON().Resources[logicalId(stack, stack.functions.authorizer!.fn)].Properties.Environment.Variables;
    expect(env.TASKGATE_KEYSTONE_SECRET_ID).toEqual({ Ref: secretId });
  });

  it('names a secret given by ARN instead, and makes none', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:taskgate-keystone-AbCdEf';
    const { template } = synth({ auth: { mode: 'keystone', keystoneUrl: 'https://keystone.example.com/v3', serviceSecretArn: arn } });
    expect(template.toJSON().Outputs.KeystoneSecretArn.Value).toBe(arn);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  it('has no such output in the other modes', () => {
    expect(synth().template.toJSON().Outputs.KeystoneSecretArn).toBeUndefined();
  });
});

describe('JWT mode with the stack\'s own Cognito user pool', () => {
  const { stack, template } = synth({ auth: { mode: 'jwt', cognito: true } });
  const resources = template.toJSON().Resources as Resources;
  const poolId = logicalId(stack, stack.userPool!.pool);
  const clientId = logicalId(stack, stack.userPool!.client);
  const pool = resources[poolId]!;
  const client = resources[clientId]!;

  it('trusts the pool\'s ID tokens: issuer, audience (the app client), project and roles claims', () => {
    const env = resources[logicalId(stack, stack.functions.authorizer!.fn)]!.Properties.Environment.Variables;
    expect(env.TASKGATE_AUTH_MODE).toBe('jwt');
    expect(env.TASKGATE_JWT_ISSUER).toEqual({ 'Fn::GetAtt': [poolId, 'ProviderURL'] });
    expect(env.TASKGATE_JWT_AUDIENCE).toEqual({ Ref: clientId });
    expect(env.TASKGATE_JWT_PROJECT_CLAIM).toBe(COGNITO_CLAIMS.project);
    expect(env.TASKGATE_JWT_ROLES_CLAIM).toBe(COGNITO_CLAIMS.roles);
    expect(env.TASKGATE_JWT_AUDIENCE_CLAIM).toBeUndefined(); // ID tokens carry aud; access tokens (client_id) are refused
  });

  it('makes users by an administrator only, each with a project attribute and one group per Nova role', () => {
    expect(pool.Properties.AdminCreateUserConfig.AllowAdminCreateUserOnly).toBe(true);
    expect(pool.Properties.Schema).toContainEqual(expect.objectContaining({ Name: 'project_id', AttributeDataType: 'String', Mutable: true }));
    expect(ofType(resources, 'AWS::Cognito::UserPoolGroup').map((g) => g.Properties.GroupName).sort()).toEqual([...COGNITO_GROUPS].sort());
  });

  it('signs a user in with a password and no client secret, and never lets a user write its own project', () => {
    expect(client.Properties.GenerateSecret).toBe(false);
    expect(client.Properties.ExplicitAuthFlows).toEqual(expect.arrayContaining(['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']));
    expect(client.Properties.ReadAttributes).toContain('custom:project_id');
    expect(client.Properties.WriteAttributes).toBeDefined();
    expect(client.Properties.WriteAttributes).not.toContain('custom:project_id');
  });

  it('outputs the pool and client ids, protects the pool like the table, and is cdk-nag clean', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs.UserPoolId.Value).toEqual({ Ref: poolId });
    expect(outputs.UserPoolClientId.Value).toEqual({ Ref: clientId });
    expect(pool.Properties.DeletionProtection).toBe('ACTIVE');
    expect(pool.DeletionPolicy).toBe('Retain');
    expect(violationsOf(stack)).toEqual([]);
    const throwaway = synth({ auth: { mode: 'jwt', cognito: true }, deletionProtection: false });
    const throwawayPool = throwaway.template.toJSON().Resources[logicalId(throwaway.stack, throwaway.stack.userPool!.pool)];
    expect(throwawayPool.Properties.DeletionProtection).toBe('INACTIVE');
    expect(throwawayPool.DeletionPolicy).toBe('Delete');
  });

  it('is not made for an OIDC issuer named by its URL', () => {
    const { template: oidc } = synth({ auth: { mode: 'jwt', issuer: 'https://issuer.example.com', audience: 'taskgate' } });
    oidc.resourceCountIs('AWS::Cognito::UserPool', 0);
  });
});

describe('custom domain', () => {
  const certificateArn = 'arn:aws:acm:us-east-1:111111111111:certificate/0f7c1c4e-0000-4000-8000-000000000000';
  const { stack, template } = synth({ customDomain: { domainName: 'compute.example.com', certificateArn } });
  const resources = template.toJSON().Resources as Resources;

  it('is a regional domain with TLS 1.2 and the certificate, mapped at its root to the stage', () => {
    const [domain] = ofType(resources, 'AWS::ApiGateway::DomainName');
    expect(domain!.Properties).toMatchObject({
      DomainName: 'compute.example.com', RegionalCertificateArn: certificateArn,
      EndpointConfiguration: { Types: ['REGIONAL'] }, SecurityPolicy: 'TLS_1_2',
    });
    const [mapping] = ofType(resources, 'AWS::ApiGateway::BasePathMapping');
    expect(mapping!.Properties.RestApiId).toEqual({ Ref: logicalId(stack, stack.api!.api) });
    expect(mapping!.Properties.BasePath).toBeUndefined();
  });

  it('gives the Nova endpoint on the domain and the name DNS must point at', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs.ApiUrl.Value).toBe('https://compute.example.com/v2.1');
    expect(outputs.CustomDomainTarget.Value).toEqual({ 'Fn::GetAtt': [expect.any(String), 'RegionalDomainName'] });
    expect(violationsOf(stack)).toEqual([]);
  });

  it('is absent unless asked for', () => {
    synth().template.resourceCountIs('AWS::ApiGateway::DomainName', 0);
  });
});

describe('simulated compute hosts (-c computeHosts)', () => {
  const hosts = '[{"name":"c0","vcpus":8,"ram":16384,"disk":500},{"name":"c1","zone":"az2","vcpus":8,"ram":16384,"disk":500}]';
  const functionsReadingTheTable = (resources: Resources) => ofType(resources, 'AWS::Lambda::Function')
    .map((f) => f.Properties.Environment?.Variables ?? {})
    .filter((env: Record<string, unknown>) => env.TABLE_NAME !== undefined);

  it('gives every function that may seed the hosts the same list, so none seeds the default', () => {
    const envs = functionsReadingTheTable(synth({ computeHosts: hosts }).template.toJSON().Resources);
    expect(envs.length).toBeGreaterThanOrEqual(4);
    expect(envs.map((env: Record<string, unknown>) => env.TASKGATE_COMPUTE_HOSTS)).toEqual(envs.map(() => hosts));
  });

  it('sets none without it (the default host)', () => {
    const envs = functionsReadingTheTable(synth().template.toJSON().Resources);
    expect(envs.filter((env: Record<string, unknown>) => 'TASKGATE_COMPUTE_HOSTS' in env)).toEqual([]);
  });

  it('fails the synth on a list the functions would refuse', () => {
    expect(() => synth({ computeHosts: '[{"name":"c0","vcpus":0,"ram":1,"disk":1}]' })).toThrow('TASKGATE_COMPUTE_HOSTS [0].vcpus must be a positive integer');
    expect(() => synth({ computeHosts: 'c0,c1' })).toThrow('TASKGATE_COMPUTE_HOSTS must be a JSON array of hosts');
  });
});
