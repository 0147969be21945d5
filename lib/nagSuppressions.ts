import { Validations } from 'aws-cdk-lib';
import type { NovaApi } from './api.js';
import type { NovaHttpApi } from './httpApi.js';
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
  noauth: {
    id: 'AwsSolutions-APIG4',
    reason: 'Development mode, asked for by name (-c auth=noauth): no authorizer, the API function reads '
      + 'X-Auth-Token as <user>:<project>. Never for a stack others can reach; use auth=keystone or auth=jwt.',
  },
  versionDiscovery: {
    id: 'AwsSolutions-APIG4',
    reason: 'Nova\'s version discovery (GET / and GET /v2.1) is public in Nova too: clients read it before '
      + 'they hold a token. It returns only the versions document; every other method has the authorizer.',
  },
  cognito: {
    id: 'AwsSolutions-COG4',
    reason: 'OpenStack clients send Keystone (or OIDC) tokens in X-Auth-Token; a Cognito user pool authorizer '
      + 'accepts only its own pool\'s tokens. A Lambda REQUEST authorizer validates them (APIG4 is met by it).',
  },
  keystoneSecretRotation: {
    id: 'AwsSolutions-SMG4',
    reason: 'The secret holds a Keystone user\'s password: it is rotated in Keystone (by its operator), then '
      + 'here; a Secrets Manager rotation Lambda cannot change a password in someone else\'s Keystone.',
  },
  cognitoMfa: {
    id: 'AwsSolutions-COG2',
    reason: 'JWT mode\'s user pool signs in API clients (the openstack CLI, scripts, CI) with a password through '
      + 'initiate-auth, which cannot answer a second-factor prompt; TOTP MFA is optional for people who want it.',
  },
  cognitoPlus: {
    id: 'AwsSolutions-COG8',
    reason: 'The Plus feature plan (threat protection) is priced per monthly active user; the pool uses the Lite '
      + 'plan, and users are made by an administrator only (no self sign-up), each scoped to one project.',
  },
  waf: {
    id: 'AwsSolutions-APIG3',
    reason: 'A web ACL is account policy and costs money per ACL and rule: pass -c webAclArn=<arn> to '
      + 'associate one; without it the stage relies on its throttling.',
  },
} as const;

export function suppressAcceptedFindings(stack: TaskgateStack, opts: { webAcl: boolean }): void {
  for (const f of Object.values(stack.functions)) if (f) Validations.of(f.role).acknowledge(ACCEPTED_FINDINGS.xray);
  if (stack.api) suppressRestApiFindings(stack, stack.api, opts);
  if (stack.httpApi) suppressHttpApiFindings(stack, stack.httpApi);
  if (stack.keystoneSecret && stack.keystoneSecret.node.scope === stack) Validations.of(stack.keystoneSecret).acknowledge(ACCEPTED_FINDINGS.keystoneSecretRotation);
  if (stack.userPool) Validations.of(stack.userPool.pool).acknowledge(ACCEPTED_FINDINGS.cognitoMfa, ACCEPTED_FINDINGS.cognitoPlus);
}

function suppressRestApiFindings(stack: TaskgateStack, nova: NovaApi, opts: { webAcl: boolean }): void {
  const api = nova.api;
  if (api.node.tryFindChild('CloudWatchRole')) {
    Validations.of(api.node.findChild('CloudWatchRole')).acknowledge(ACCEPTED_FINDINGS.apiGatewayLogsRole);
  }
  Validations.of(api).acknowledge(ACCEPTED_FINDINGS.requestValidation);
  if (stack.functions.authorizer) {
    for (const method of nova.publicMethods) Validations.of(method).acknowledge(ACCEPTED_FINDINGS.versionDiscovery, ACCEPTED_FINDINGS.cognito);
  } else {
    Validations.of(api.root).acknowledge(ACCEPTED_FINDINGS.noauth);
  }
  Validations.of(api.root).acknowledge(ACCEPTED_FINDINGS.cognito);
  if (!opts.webAcl) Validations.of(api.deploymentStage).acknowledge(ACCEPTED_FINDINGS.waf);
}

function suppressHttpApiFindings(stack: TaskgateStack, nova: NovaHttpApi): void {
  if (stack.functions.authorizer) {
    for (const route of nova.publicRoutes) Validations.of(route).acknowledge(ACCEPTED_FINDINGS.versionDiscovery);
  } else {
    Validations.of(nova.api).acknowledge(ACCEPTED_FINDINGS.noauth);
  }
}
