import { CfnOutput } from 'aws-cdk-lib';
import { BasePathMapping, DomainName, EndpointType, SecurityPolicy, type RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';

export interface CustomDomainProps {
  readonly api: RestApi;
  /** e.g. compute.example.com */
  readonly domainName: string;
  /** An ACM certificate for that name, in the stack's region (a regional endpoint). */
  readonly certificateArn: string;
}

/**
 * The API on a name of one's own (-c domainName=... -c certificateArn=...): a regional custom
 * domain mapped at its root to the stage, so the Nova endpoint is `https://<domain>/v2.1`. Links in
 * answers follow the domain (functions/api/mount.ts). The DNS record is the owner's to make: a
 * CNAME (or Route 53 alias) from the name to the `CustomDomainTarget` output.
 */
export class CustomDomain extends Construct {
  readonly domain: DomainName;

  constructor(scope: Construct, id: string, props: CustomDomainProps) {
    super(scope, id);
    this.domain = new DomainName(this, 'Domain', {
      domainName: props.domainName,
      certificate: Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
      endpointType: EndpointType.REGIONAL,
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    new BasePathMapping(this, 'Root', { domainName: this.domain, restApi: props.api, stage: props.api.deploymentStage });
    new CfnOutput(scope, 'CustomDomainTarget', {
      value: this.domain.domainNameAliasDomainName,
      description: `The DNS name ${props.domainName} must point at (CNAME, or a Route 53 alias)`,
    });
  }
}
