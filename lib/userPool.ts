import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccountRecovery, FeaturePlan, Mfa, StringAttribute, UserPool, UserPoolClient, UserPoolGroup, ClientAttributes } from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/** The claims of a Cognito ID token that carry the caller's project and roles (TASKGATE_JWT_*_CLAIM). */
export const COGNITO_CLAIMS = { project: 'custom:project_id', roles: 'cognito:groups' } as const;

/** One group per Nova role: a user's groups are the roles in its ID token. */
export const COGNITO_GROUPS = ['reader', 'member', 'admin'] as const;

export interface TaskgateUserPoolProps {
  /** Deletion protection and RETAIN, as for the table (false for throwaway stacks). */
  readonly deletionProtection: boolean;
}

/**
 * JWT mode's issuer, when the stack is asked for one (-c auth=jwt -c cognito=true): a user pool
 * whose ID tokens the authorizer verifies. Users are made by an administrator (no self sign-up),
 * each with its project in `custom:project_id` and its roles as groups; the app client has no
 * secret, so a user gets a token with `aws cognito-idp initiate-auth` (USER_PASSWORD_AUTH) alone.
 */
export class TaskgateUserPool extends Construct {
  readonly pool: UserPool;
  readonly client: UserPoolClient;

  constructor(scope: Construct, id: string, props: TaskgateUserPoolProps) {
    super(scope, id);
    this.pool = new UserPool(this, 'Pool', {
      selfSignUpEnabled: false,
      signInAliases: { username: true },
      customAttributes: { project_id: new StringAttribute({ minLen: 1, maxLen: 64, mutable: true }) },
      passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.NONE,
      // Lite: what taskgate needs (users, groups, custom attributes, tokens), at Cognito's lowest price.
      featurePlan: FeaturePlan.LITE,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const groupName of COGNITO_GROUPS) {
      new UserPoolGroup(this, `Group-${groupName}`, { userPool: this.pool, groupName, description: `Nova's ${groupName} role` });
    }
    this.client = this.pool.addClient('Client', {
      generateSecret: false,
      authFlows: { userPassword: true, adminUserPassword: true, userSrp: true },
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      preventUserExistenceErrors: true,
      // The project a user acts in is the administrator's to set: a user may read it, never write it
      // (else UpdateUserAttributes would move a user into any project it names).
      readAttributes: new ClientAttributes().withStandardAttributes({ email: true }).withCustomAttributes('project_id'),
      writeAttributes: new ClientAttributes().withStandardAttributes({ email: true }),
    });
    new CfnOutput(scope, 'UserPoolId', { value: this.pool.userPoolId, description: 'JWT mode: the user pool taskgate trusts (aws cognito-idp admin-create-user --user-pool-id)' });
    new CfnOutput(scope, 'UserPoolClientId', { value: this.client.userPoolClientId, description: 'JWT mode: the app client a user signs in with (aws cognito-idp initiate-auth --client-id)' });
  }

  /** The issuer of the pool's tokens (`https://cognito-idp.<region>.amazonaws.com/<pool id>`). */
  get issuer(): string {
    return this.pool.userPoolProviderUrl;
  }
}
