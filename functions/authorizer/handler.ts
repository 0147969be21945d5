import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { identityConfig } from '../core/shared/config.js';
import { identityProvider } from '../core/identity/fromConfig.js';
import type { ServiceCredentials } from '../core/identity/keystone.js';
import { authorizeRequest } from './authorize.js';

// The authorizer Lambda's entry. The provider (and its token cache, and Keystone's service
// token) lives as long as the Lambda environment; API Gateway's authorizer cache sits in front.

const secrets = new SecretsManagerClient({});

/** The secret is JSON: {"username", "password", "projectName"?, "userDomainName"?, "projectDomainName"?}. */
async function secretCredentials(secretId: string): Promise<ServiceCredentials> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  const v = JSON.parse(out.SecretString ?? '{}') as Partial<Record<keyof ServiceCredentials, string>>;
  if (!v.username || !v.password) throw new Error(`secret ${secretId} has no username/password`);
  return {
    username: v.username, password: v.password, projectName: v.projectName ?? 'service',
    userDomainName: v.userDomainName ?? 'Default', projectDomainName: v.projectDomainName ?? 'Default',
  };
}

const provider = identityProvider(identityConfig(process.env), { secretCredentials });

export const handler = (event: APIGatewayRequestAuthorizerEvent) => authorizeRequest(provider, event);
