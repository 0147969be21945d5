import { Match } from 'aws-cdk-lib/assertions';
import { ConfigError } from '../../functions/core/shared/config.js';
import { synth } from './synth.js';

// -c jwtRolesSeparator reaches the authorizer as TASKGATE_JWT_ROLES_SEPARATOR, as -c jwtRolesClaim
// does TASKGATE_JWT_ROLES_CLAIM; unset, the authorizer takes a string roles claim as one role.

const JWT = { mode: 'jwt', issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc', audience: 'client', rolesClaim: 'cognito:groups' } as const;

function authorizerVariables(template: ReturnType<typeof synth>['template']): Record<string, string> {
  const fns = Object.values(template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ TASKGATE_JWT_ISSUER: JWT.issuer }) } },
  })) as { Properties: { Environment: { Variables: Record<string, string> } } }[];
  expect(fns).toHaveLength(1);
  return fns[0]!.Properties.Environment.Variables;
}

it('passes the separator to the authorizer only when given', () => {
  expect(authorizerVariables(synth({ auth: { ...JWT, rolesSeparator: ' ' } }).template))
    .toMatchObject({ TASKGATE_JWT_ROLES_CLAIM: 'cognito:groups', TASKGATE_JWT_ROLES_SEPARATOR: ' ' });
  expect(authorizerVariables(synth({ auth: JWT }).template)).not.toHaveProperty('TASKGATE_JWT_ROLES_SEPARATOR');
});

it('fails the synth on a separator that would cut role names apart', () => {
  expect(() => synth({ auth: { ...JWT, rolesSeparator: 'a' } })).toThrow(ConfigError);
});
