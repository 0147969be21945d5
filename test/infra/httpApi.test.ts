import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PUBLIC_PATHS } from '../../lib/httpApi.js';
import { ACCEPTED_FINDINGS } from '../../lib/nagSuppressions.js';
import { logicalId, synth } from './synth.js';

// -c api=http: the same API on API Gateway's HTTP API (docs/costs.md: the API's own price). The
// REST API stays the default; with the HTTP API the two functions get the events they get
// behind REST (payload format 1.0, the IAM-policy authorizer), and what it cannot carry is refused.

const keystone = { mode: 'keystone', keystoneUrl: 'https://keystone.example/v3' } as const;
const violationsOf = (scope: Parameters<AwsSolutionsChecks['validateScope']>[0]) =>
  new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(scope).violations
    .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);

it('the default stack is a REST API and has no HTTP API', () => {
  const { template } = synth();
  template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
  template.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
});

describe('-c api=http', () => {
  it('proxies every path to the API function with the REST payload, on a throttled, logged stage named as the REST one', () => {
    const { stack, template } = synth({ apiType: 'http' });
    template.resourceCountIs('AWS::ApiGateway::RestApi', 0);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '1.0' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default', AuthorizationType: 'NONE' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'compute', AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200, DetailedMetricsEnabled: true },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
    expect(stack.api).toBeUndefined();
    expect(template.findOutputs('ApiUrl').ApiUrl!.Value).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack, stack.httpApi!.api), 'ApiEndpoint'] }, '/compute/v2.1']] });
    expect(template.findOutputs('RestApiId')).toEqual({});
  });

  it('puts the token authorizer (IAM policy, payload 1.0, cached per X-Auth-Token) on every route but version discovery', () => {
    const { stack, template } = synth({ apiType: 'http', auth: keystone });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST', AuthorizerPayloadFormatVersion: '1.0', IdentitySource: ['$request.header.X-Auth-Token'],
      AuthorizerResultTtlInSeconds: 60, EnableSimpleResponses: Match.absent(),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default', AuthorizationType: 'CUSTOM' });
    for (const path of PUBLIC_PATHS) template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: `GET ${path}`, AuthorizationType: 'NONE' });
    expect(Object.keys(template.findResources('AWS::ApiGatewayV2::Route'))).toHaveLength(PUBLIC_PATHS.length + 1);
    expect(stack.httpApi!.publicRoutes).toHaveLength(PUBLIC_PATHS.length);
  });

  it('leaves cdk-nag nothing unacknowledged, acknowledging only the public version routes (keystone) or noauth', () => {
    for (const props of [{ apiType: 'http' as const }, { apiType: 'http' as const, auth: keystone }]) {
      const { stack } = synth(props);
      expect(violationsOf(stack)).toEqual([]);
      const noauth = stack.node.findAll().some((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        && Object.values(m.data as Record<string, string>).includes(ACCEPTED_FINDINGS.noauth.reason)));
      expect(noauth).toBe(!('auth' in props));
    }
  });

  it('refuses what only the REST API carries: a web ACL, a custom domain', () => {
    expect(() => synth({ apiType: 'http', webAclArn: 'arn:aws:wafv2:us-east-1:111111111111:regional/webacl/t/abc' })).toThrow(/webAclArn/);
    expect(() => synth({ apiType: 'http', customDomain: { domainName: 'compute.example.com', certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/x' } }))
      .toThrow(/custom domain/);
  });
});
