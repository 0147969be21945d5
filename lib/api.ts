import { RemovalPolicy } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import {
  AccessLogFormat, AuthorizationType, EndpointType, IdentitySource, LambdaIntegration, LambdaRestApi, LogGroupLogDestination,
  Method, MethodLoggingLevel, RequestAuthorizer, Resource, ResponseType,
} from 'aws-cdk-lib/aws-apigateway';
import { GATEWAY_RESPONSES } from '../functions/authorizer/gatewayResponses.js';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface NovaApiProps {
  readonly handler: IFunction;
  /** The stage is the first path segment: `<stage>/v2.1/servers`, as devstack serves `/compute/v2.1`. */
  readonly stageName: string;
  /** Steady-state requests per second and burst, for the whole stage. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** A WAFv2 web ACL (REGIONAL scope) to put in front of the stage. */
  readonly webAclArn?: string;
  /**
   * Create the account's API Gateway CloudWatch Logs role. API Gateway has one such role per
   * account and region, and logs nothing without it; a stack that creates it owns a setting every
   * other API in the region shares. On only where nothing else sets it.
   */
  readonly cloudWatchRole: boolean;
  /** The REQUEST authorizer (Keystone or JWT mode); without it the API function reads the token (noauth). */
  readonly authorizer?: IFunction;
  /** Seconds API Gateway caches an authorizer result per token. */
  readonly authorizerCacheSeconds?: number;
}

/**
 * API Gateway REST API (LocalStack's community edition serves REST APIs, not HTTP APIs), every
 * path proxied to the API function, which routes and validates itself (middy, JSON Schema) so that
 * errors come back in Nova's format.
 */
export class NovaApi extends Construct {
  readonly api: LambdaRestApi;
  readonly accessLogs: LogGroup;
  /** Each service's version discovery (Nova's `GET /`, `GET /v2.1`; Glance's `GET /image`, `GET /image/versions`; Cinder's `GET /volume`, `GET /volume/v3`): served without the authorizer, as those services serve it without a token. */
  readonly publicMethods: Method[] = [];

  constructor(scope: Construct, id: string, props: NovaApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: props.logRemovalPolicy });
    const authorizer = props.authorizer ? new RequestAuthorizer(this, 'Authorizer', {
      handler: props.authorizer,
      identitySources: [IdentitySource.header('X-Auth-Token')],
      resultsCacheTtl: Duration.seconds(props.authorizerCacheSeconds ?? 60),
    }) : undefined;
    this.api = new LambdaRestApi(this, 'Api', {
      handler: props.handler,
      proxy: true,
      ...(authorizer ? { defaultMethodOptions: { authorizer, authorizationType: AuthorizationType.CUSTOM } } : {}),
      description: 'taskgate: OpenStack Nova v2.1 compute API',
      endpointTypes: [EndpointType.REGIONAL],
      // API Gateway writes access and execution logs through an account-wide role; when this stack
      // creates it, CDK keeps it (RETAIN) on stack deletion because other APIs may rely on it.
      cloudWatchRole: props.cloudWatchRole,
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        tracingEnabled: true,
        metricsEnabled: true,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: MethodLoggingLevel.ERROR,
        // Never log bodies and headers: X-Auth-Token is a credential.
        dataTraceEnabled: false,
      },
    });
    // RestApi adds an output with the stage's URL; the stack's one URL output is the Nova endpoint.
    this.api.node.tryRemoveChild('Endpoint');
    if (authorizer) {
      const integration = new LambdaIntegration(props.handler);
      const open = { authorizationType: AuthorizationType.NONE };
      // Constructed directly: a proxying LambdaRestApi refuses addMethod, though API Gateway takes a
      // GET beside the ANY that proxies (the more specific method wins).
      const v21 = new Resource(this, 'VersionResource', { parent: this.api.root, pathPart: 'v2.1' });
      this.publicMethods.push(new Method(this, 'RootVersions', { resource: this.api.root, httpMethod: 'GET', integration, options: open }));
      this.publicMethods.push(new Method(this, 'V21Version', { resource: v21, httpMethod: 'GET', integration, options: open }));
      // Glance's, at the image endpoint (`<base>/image`): its version list and /versions. Its API
      // below (`/image/v2/...`) stays with the proxy and the authorizer.
      const image = new Resource(this, 'ImageResource', { parent: this.api.root, pathPart: 'image' });
      const imageVersions = new Resource(this, 'ImageVersionsResource', { parent: image, pathPart: 'versions' });
      this.publicMethods.push(new Method(this, 'ImageVersions', { resource: image, httpMethod: 'GET', integration, options: open }));
      this.publicMethods.push(new Method(this, 'ImageVersionsList', { resource: imageVersions, httpMethod: 'GET', integration, options: open }));
      // Cinder's, at the volume endpoint's root (`<base>/volume`) and its v3 (`<base>/volume/v3`);
      // `/volume/v3/<project>/...` stays with the proxy and the authorizer.
      const volume = new Resource(this, 'VolumeResource', { parent: this.api.root, pathPart: 'volume' });
      const volumeV3 = new Resource(this, 'VolumeV3Resource', { parent: volume, pathPart: 'v3' });
      this.publicMethods.push(new Method(this, 'VolumeVersions', { resource: volume, httpMethod: 'GET', integration, options: open }));
      this.publicMethods.push(new Method(this, 'VolumeV3Version', { resource: volumeV3, httpMethod: 'GET', integration, options: open }));
      // Neutron's, at the network endpoint (`<base>/network`) and its v2.0; `/network/v2.0/ports`
      // and the rest stay with the proxy and the authorizer.
      const network = new Resource(this, 'NetworkResource', { parent: this.api.root, pathPart: 'network' });
      const networkV20 = new Resource(this, 'NetworkV20Resource', { parent: network, pathPart: 'v2.0' });
      this.publicMethods.push(new Method(this, 'NetworkVersions', { resource: network, httpMethod: 'GET', integration, options: open }));
      this.publicMethods.push(new Method(this, 'NetworkV20Version', { resource: networkV20, httpMethod: 'GET', integration, options: open }));
    }
    // API Gateway's own answers (a body over 10 MB, throttling, the authorizer's refusals, the
    // function failing) in Nova's shapes, as the local runtime answers them (gatewayResponses.ts).
    for (const [type, r] of Object.entries(GATEWAY_RESPONSES)) {
      this.api.addGatewayResponse(`${type}Response`, {
        type: ResponseType.of(type),
        // A fallback's status would replace the status of every type of its class that has none:
        // left unset, each keeps API Gateway's own.
        ...(type.startsWith('DEFAULT_') ? {} : { statusCode: String(r.statusCode) }),
        templates: { 'application/json': JSON.stringify(r.body) },
      });
    }
    if (props.webAclArn) {
      new CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: props.webAclArn,
      });
    }
  }
}
