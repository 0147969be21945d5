import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi, HttpMethod, HttpNoneAuthorizer, HttpRoute, HttpRouteKey, HttpStage, LogGroupLogDestination, PayloadFormatVersion,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NovaHttpApiProps {
  readonly handler: IFunction;
  /** The stage is the first path segment, as the REST API's: `<stage>/v2.1/servers`. */
  readonly stageName: string;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** The REQUEST authorizer (Keystone or JWT mode); without it the API function reads the token (noauth). */
  readonly authorizer?: IFunction;
  readonly authorizerCacheSeconds?: number;
}

/** JSON access logs from the HTTP API's own context variables (the REST format names some it has not). */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(JSON.stringify({
  requestId: '$context.requestId', ip: '$context.identity.sourceIp', requestTime: '$context.requestTime', httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey', path: '$context.path', status: '$context.status', protocol: '$context.protocol',
  responseLength: '$context.responseLength', integrationError: '$context.integrationErrorMessage', authorizerError: '$context.authorizer.error',
}));

/** The paths served without a token: each service's version discovery, as NovaApi (api.ts) serves them. */
export const PUBLIC_PATHS = ['/', '/v2.1', '/image', '/image/versions', '/volume', '/volume/v3', '/network', '/network/v2.0'];

/**
 * `-c api=http`: the same Nova API on API Gateway's HTTP API, $1.00 a million requests against
 * REST's $3.50 (docs/costs.md). The API function gets the REST API's event (payload format 1.0)
 * and the authorizer the REST authorizer's (its IAM policy answer, cached per token), so neither
 * function knows which API is in front. What the HTTP API cannot do: a WAF web ACL, gateway
 * responses (its own refusals, a 401 or a 429, come as `{"message": ...}`, not in Nova's format),
 * X-Ray tracing of the stage, execution logs.
 */
export class NovaHttpApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  readonly publicRoutes: HttpRoute[] = [];
  /** The Nova endpoint's base: `https://<api>.execute-api.<region>.amazonaws.com/<stage>`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: NovaHttpApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: props.logRemovalPolicy });
    const integration = new HttpLambdaIntegration('Api', props.handler, { payloadFormatVersion: PayloadFormatVersion.VERSION_1_0 });
    const authorizer = props.authorizer ? new HttpLambdaAuthorizer('Authorizer', props.authorizer, {
      identitySource: ['$request.header.X-Auth-Token'],
      responseTypes: [HttpLambdaResponseType.IAM],
      resultsCacheTtl: Duration.seconds(props.authorizerCacheSeconds ?? 60),
    }) : undefined;
    this.api = new HttpApi(this, 'Api', {
      description: 'taskgate: OpenStack Nova v2.1 compute API',
      createDefaultStage: false,
      defaultIntegration: integration,
      ...(authorizer ? { defaultAuthorizer: authorizer } : {}),
    });
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: props.throttle,
      detailedMetricsEnabled: true,
      accessLogSettings: { destination: new LogGroupLogDestination(this.accessLogs), format: ACCESS_LOG_FORMAT },
    });
    // The default route ($default) takes every path and method, with the authorizer; version
    // discovery is public, as in Nova.
    if (authorizer) {
      for (const path of PUBLIC_PATHS) {
        this.publicRoutes.push(new HttpRoute(this, `Public${path.replace(/[^A-Za-z0-9]/g, '_')}`, {
          httpApi: this.api, routeKey: HttpRouteKey.with(path, HttpMethod.GET), integration, authorizer: new HttpNoneAuthorizer(),
        }));
      }
    }
    this.url = `${this.api.apiEndpoint}/${props.stageName}`;
  }
}
