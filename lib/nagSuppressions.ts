import { Validations } from 'aws-cdk-lib';
import type { TaskgateStack } from './taskgateStack.js';

/** Each cdk-nag AwsSolutions finding the stack accepts, on the narrowest construct, with its reason. */
export const ACCEPTED_FINDINGS = {
  xray: {
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level '
      + 'permissions, so Resource "*" is the narrowest there is. Table and queue statements name their ARNs.',
  },
  apiGatewayLogsRole: {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason: 'API Gateway writes access and execution logs through one account-wide role; this AWS managed '
      + 'policy is the one AWS documents for it and is scoped to CloudWatch Logs.',
  },
  requestValidation: {
    id: 'AwsSolutions-APIG2',
    reason: 'Every path is proxied to the API function, which validates each body against its JSON Schema '
      + '(ajv) and answers with Nova\'s badRequest format; a gateway validator would answer in another shape.',
  },
  authorization: {
    id: 'AwsSolutions-APIG4',
    reason: 'Authentication is done by the API function (Nova\'s X-Auth-Token, noauth2 convention) until '
      + 'Keystone-token auth lands; an API Gateway authorizer would not understand Nova tokens.',
  },
  cognito: {
    id: 'AwsSolutions-COG4',
    reason: 'Nova clients send X-Auth-Token, not Cognito tokens; auth is the API function\'s (see APIG4).',
  },
  waf: {
    id: 'AwsSolutions-APIG3',
    reason: 'A web ACL is account policy and costs money per ACL and rule: pass -c webAclArn=<arn> to '
      + 'associate one; without it the stage relies on its throttling.',
  },
} as const;

export function suppressAcceptedFindings(stack: TaskgateStack, opts: { webAcl: boolean }): void {
  for (const f of Object.values(stack.functions)) Validations.of(f.role).acknowledge(ACCEPTED_FINDINGS.xray);
  const api = stack.api.api;
  if (api.node.tryFindChild('CloudWatchRole')) {
    Validations.of(api.node.findChild('CloudWatchRole')).acknowledge(ACCEPTED_FINDINGS.apiGatewayLogsRole);
  }
  Validations.of(api).acknowledge(ACCEPTED_FINDINGS.requestValidation);
  Validations.of(api.root).acknowledge(ACCEPTED_FINDINGS.authorization);
  Validations.of(api.root).acknowledge(ACCEPTED_FINDINGS.cognito);
  if (!opts.webAcl) Validations.of(api.deploymentStage).acknowledge(ACCEPTED_FINDINGS.waf);
}
