import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { INDEX_ALL_SERVERS, INDEX_BY_LEASE, INDEX_BY_PROJECT } from '../functions/core/shared/table.js';
import { grantConsume, grantSend, grantTable } from './access.js';
import { OperationsAlarms, oldestOperationAlarmSeconds } from './alarms.js';
import { NovaApi } from './api.js';
import { Ec2Compute, type Ec2DriverProps } from './ec2Compute.js';
import { NovaHttpApi } from './httpApi.js';
import { suppressAcceptedFindings } from './nagSuppressions.js';
import { computeHosts, identityConfig, projectSpreads, timings, timingsEnv, type TimingInputs, type Timings } from '../functions/core/shared/config.js';
import { OperationQueues } from './queues.js';
import { OperationsTable } from './table.js';
import { TaskgateFunction } from './taskgateFunction.js';
import { COGNITO_CLAIMS, TaskgateUserPool } from './userPool.js';
import { CustomDomain } from './customDomain.js';

export type StackAuth =
  | { readonly mode: 'noauth' }
  | { readonly mode: 'keystone'; readonly keystoneUrl: string; readonly serviceSecretArn?: string }
  | { readonly mode: 'jwt'; readonly issuer: string; readonly audience: string; readonly audienceClaim?: 'aud' | 'client_id'; readonly jwksUrl?: string; readonly projectClaim?: string; readonly rolesClaim?: string; readonly rolesSeparator?: string }
  /** JWT mode with a Cognito user pool the stack makes (lib/userPool.ts): its ID tokens, project and groups. */
  | { readonly mode: 'jwt'; readonly cognito: true };

export interface TaskgateStackProps extends StackProps {
  /** Table deletion protection and RETAIN of table and logs. Default true; false for throwaway stacks. */
  readonly deletionProtection?: boolean;
  /** API Gateway stage, the first path segment. Default `compute` (devstack's `/compute/v2.1`). */
  readonly apiStageName?: string;
  /** Stage-wide throttling. Default 100 requests per second, burst 200. */
  readonly apiThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * The API timeout (default 20 s), the compute timeout (default 60 s), the queue's visibility timeout (default six times it),
   * maxReceiveCount (default 5), the lease margin (default 30 s) and the sweep interval (default
   * 60 s); the run, claim and reservation leases derive from them (functions/core/shared/config.ts).
   */
  readonly timings?: Partial<TimingInputs>;
  /** How callers are identified; required (bin/app.ts: -c auth=keystone|jwt|noauth). */
  readonly auth?: StackAuth;
  /** Most compute functions the event source mapping runs at once. Default 50. */
  readonly computeMaxConcurrency?: number;
  /** The simulated driver's step time. Default 300 ms. */
  readonly driverStepMs?: number;
  /**
   * The simulated compute hosts Placement schedules onto (-c computeHosts='[{"name":...}]', the
   * JSON of TASKGATE_COMPUTE_HOSTS, docs/placement.md), checked at synth. Default: one host large
   * enough never to fill. Read by the first function that needs the hosts and seeded into the
   * table once; a later change does not reseed a table already seeded.
   */
  readonly computeHosts?: string;
  /**
   * The projects whose creates and deletes spread over more keys than one (-c projectSpread='{"<project
   * id>":{"listingPartitions":16,"usageSlices":32}}', the JSON of TASKGATE_PROJECT_SPREAD,
   * docs/write-units.md), checked at synth. Default: none. Counts are only ever raised.
   */
  readonly projectSpread?: string;
  /** Run operations on EC2 instead of the simulated driver (-c driver=ec2, docs/ec2.md). */
  readonly ec2?: Ec2DriverProps;
  readonly lambdaRuntime?: Runtime;
  readonly logRetention?: RetentionDays;
  /** An existing SNS topic for alarm notifications. */
  readonly alarmTopicArn?: string;
  /** A WAFv2 web ACL (REGIONAL) to associate with the API stage. */
  readonly webAclArn?: string;
  /**
   * Where clients reach the API, when not on API Gateway's own URL (a custom domain with a base
   * path, LocalStack): TASKGATE_PUBLIC_URL of the API function, the base of every link.
   */
  readonly publicUrl?: string;
  /** Create API Gateway's account-wide CloudWatch Logs role (docs/deploying.md: when). Default false. */
  readonly apiGatewayCloudWatchRole?: boolean;
  /** Serve the API on a domain of one's own, with an ACM certificate of the stack's region. */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  /**
   * API Gateway's REST API (the default) or its HTTP API (`-c api=http`): $1.00 a million requests
   * against $3.50, without WAF, gateway responses in Nova's format or stage tracing (docs/costs.md).
   */
  readonly apiType?: 'rest' | 'http';
}

/** Settings the stack derives and the tests check against each other. */
export interface TaskgateSettings {
  /** Every duration, validated and derived in one place; each function gets them as variables. */
  readonly timings: Timings;
  readonly computeMaxConcurrency: number;
}

export class TaskgateStack extends Stack {
  readonly settings: TaskgateSettings;
  readonly table: OperationsTable;
  readonly queues: OperationQueues;
  /** The REST API (apiType rest, the default). */
  readonly api?: NovaApi;
  /** The HTTP API (apiType http). */
  readonly httpApi?: NovaHttpApi;
  readonly functions: { api: TaskgateFunction; compute: TaskgateFunction; sweeper: TaskgateFunction; deadLetter: TaskgateFunction; authorizer?: TaskgateFunction };
  /** Keystone mode: the secret holding taskgate's Keystone service credentials. */
  readonly keystoneSecret?: ISecret;
  /** JWT mode with `cognito`: the user pool whose ID tokens the authorizer trusts. */
  readonly userPool?: TaskgateUserPool;
  readonly customDomain?: CustomDomain;
  readonly alarms: OperationsAlarms;
  /** -c driver=ec2: the EC2 driver's permissions, drift function and rules. */
  readonly ec2?: Ec2Compute;

  constructor(scope: Construct, id: string, props: TaskgateStackProps) {
    super(scope, id, props);
    if (!props.auth) throw new Error('taskgate needs an identity mode: auth keystone, jwt or (explicitly, for development) noauth');
    const auth = props.auth;
    const deletionProtection = props.deletionProtection ?? true;
    const retained = deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const leases = timings(props.timings);
    this.settings = { timings: leases, computeMaxConcurrency: props.computeMaxConcurrency ?? 50 };
    const computeTimeout = Duration.seconds(leases.computeTimeoutSeconds);
    const timingVariables = timingsEnv(leases);
    // Every function that may seed the hosts sees the same list (one that read none would seed the default).
    const placementVariables: Record<string, string> = {
      ...props.computeHosts === undefined ? {} : { TASKGATE_COMPUTE_HOSTS: hostsVariable(props.computeHosts) },
      // Every function that charges, gives back or lists a project's servers reads the same spread.
      ...props.projectSpread === undefined ? {} : { TASKGATE_PROJECT_SPREAD: spreadVariable(props.projectSpread) },
    };
    const deadLetterTimeout = Duration.seconds(30);
    const common = {
      runtime: props.lambdaRuntime,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      logRemovalPolicy: retained,
    };

    this.table = new OperationsTable(this, 'Operations', { deletionProtection });
    this.queues = new OperationQueues(this, 'OperationQueues', {
      timings: leases, deadLetterTimeout,
    });
    const { queue, deadLetterQueue } = this.queues;
    const tableName = this.table.table.tableName;

    // API: validate, claim (one conditional UpdateItem), record the action, enqueue, answer 202.
    const api = new TaskgateFunction(this, 'ApiFunction', {
      // With the EC2 driver the API reads the guest console from EC2: an entry of its own, as compute's.
      ...common, handlerDir: props.ec2 ? 'apiEc2' : 'api', description: 'taskgate Nova API',
      // Under API Gateway's 29 s integration timeout (config.ts checks it); a volume's reservation
      // lease is this plus the margin, so no admission outlives the reservation it made.
      timeout: Duration.seconds(leases.apiTimeoutSeconds),
      environment: {
        TABLE_NAME: tableName,
        QUEUE_URL: queue.queueUrl,
        ...timingVariables,
        ...placementVariables,
        ...(props.publicUrl ? { TASKGATE_PUBLIC_URL: props.publicUrl } : {}),
        TASKGATE_AUTH_MODE: auth.mode,
        // Admission refuses what the compute function's driver cannot do (functions/core/compute/capabilities.ts).
        TASKGATE_DRIVER: props.ec2 ? 'ec2' : 'simulated',
      },
    });
    grantTable(api.role, this.table, ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'], [INDEX_BY_PROJECT, INDEX_ALL_SERVERS]);
    grantSend(api.role, queue);

    // Compute: one FIFO batch, groups in parallel, each under its claim.
    const compute = new TaskgateFunction(this, 'ComputeFunction', {
      // The EC2 driver's entry is its own, so that only its bundle carries the EC2 client.
      ...common, handlerDir: props.ec2 ? 'computeEc2' : 'compute', description: 'taskgate compute worker',
      timeout: computeTimeout,
      environment: {
        TABLE_NAME: tableName,
        ...timingVariables,
        ...placementVariables,
        // The driver the compute function runs (functions/core/compute/drivers.ts); Ec2Compute switches it to ec2.
        TASKGATE_DRIVER: 'simulated',
        TASKGATE_DRIVER_STEP_MS: String(props.driverStepMs ?? 300),
      },
    });
    grantTable(compute.role, this.table, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'ConditionCheckItem']);
    grantConsume(compute.role, queue);
    compute.fn.addEventSourceMapping('Operations', {
      eventSourceArn: queue.queueArn,
      batchSize: 10,
      reportBatchItemFailures: true,
      // Caps concurrency without reserving it (reserved concurrency can fail deploys in accounts
      // whose unreserved pool is at its minimum of 10).
      maxConcurrency: this.settings.computeMaxConcurrency,
    });
    if (props.ec2) this.ec2 = new Ec2Compute(this, 'Ec2Driver', { driver: props.ec2, compute, api, queue, table: this.table, common, maxReceiveCount: leases.maxReceiveCount });

    // Sweeper: on a schedule, ends claims whose lease expired (a lost message), through the sparse lease index.
    const sweeper = new TaskgateFunction(this, 'SweeperFunction', {
      ...common, handlerDir: 'sweeper', description: 'taskgate expired-claim sweeper',
      // Under the schedule's interval; an overlapping sweep is harmless (every release is fenced).
      timeout: Duration.seconds(Math.min(50, Math.max(10, leases.sweepIntervalSeconds - 10))),
      environment: { TABLE_NAME: tableName, ...placementVariables },
    });
    grantTable(sweeper.role, this.table, ['GetItem', 'UpdateItem', 'DeleteItem'], [INDEX_BY_LEASE]);
    new Rule(this, 'SweepSchedule', {
      description: 'taskgate: release expired claims',
      schedule: Schedule.rate(Duration.minutes(Math.max(1, Math.ceil(leases.sweepIntervalSeconds / 60)))),
      // A missed sweep is made up by the next one.
      targets: [new LambdaFunction(sweeper.fn, { retryAttempts: 0 })],
    });

    // Dead-letter handler: ends operations whose message failed on every delivery.
    const deadLetter = new TaskgateFunction(this, 'DeadLetterFunction', {
      ...common, handlerDir: 'dlq', description: 'taskgate dead-lettered operations',
      timeout: deadLetterTimeout,
      environment: { TABLE_NAME: tableName, ...placementVariables },
    });
    grantTable(deadLetter.role, this.table, ['GetItem', 'UpdateItem', 'DeleteItem']);
    grantConsume(deadLetter.role, deadLetterQueue);
    deadLetter.fn.addEventSourceMapping('DeadLetters', {
      eventSourceArn: deadLetterQueue.queueArn,
      batchSize: 10,
      reportBatchItemFailures: true,
      maxConcurrency: 2,
    });

    // Keystone or JWT: a REQUEST authorizer in front of the API (functions/authorizer/).
    let authorizer: TaskgateFunction | undefined;
    if (auth.mode !== 'noauth') {
      let environment: Record<string, string>;
      if (auth.mode === 'keystone') {
        this.keystoneSecret = auth.serviceSecretArn
          ? Secret.fromSecretCompleteArn(this, 'KeystoneServiceSecret', auth.serviceSecretArn)
          : new Secret(this, 'KeystoneServiceSecret', {
            description: 'taskgate\'s Keystone service user: {"username", "password", "projectName", "userDomainName", "projectDomainName"}',
            generateSecretString: { secretStringTemplate: JSON.stringify({ username: 'taskgate', projectName: 'service' }), generateStringKey: 'password', excludePunctuation: true },
          });
        environment = { TASKGATE_AUTH_MODE: 'keystone', TASKGATE_KEYSTONE_URL: auth.keystoneUrl, TASKGATE_KEYSTONE_SECRET_ID: this.keystoneSecret.secretArn };
      } else if ('cognito' in auth) {
        this.userPool = new TaskgateUserPool(this, 'Users', { deletionProtection });
        environment = {
          TASKGATE_AUTH_MODE: 'jwt', TASKGATE_JWT_ISSUER: this.userPool.issuer, TASKGATE_JWT_AUDIENCE: this.userPool.client.userPoolClientId,
          TASKGATE_JWT_PROJECT_CLAIM: COGNITO_CLAIMS.project, TASKGATE_JWT_ROLES_CLAIM: COGNITO_CLAIMS.roles,
        };
      } else {
        environment = {
          TASKGATE_AUTH_MODE: 'jwt', TASKGATE_JWT_ISSUER: auth.issuer, TASKGATE_JWT_AUDIENCE: auth.audience,
          ...(auth.audienceClaim ? { TASKGATE_JWT_AUDIENCE_CLAIM: auth.audienceClaim } : {}),
          ...(auth.jwksUrl ? { TASKGATE_JWT_JWKS_URL: auth.jwksUrl } : {}),
          ...(auth.projectClaim ? { TASKGATE_JWT_PROJECT_CLAIM: auth.projectClaim } : {}),
          ...(auth.rolesClaim ? { TASKGATE_JWT_ROLES_CLAIM: auth.rolesClaim } : {}),
          ...(auth.rolesSeparator ? { TASKGATE_JWT_ROLES_SEPARATOR: auth.rolesSeparator } : {}),
        };
        // The authorizer reads these with identityConfig: a bad value (a roles separator of letters)
        // fails the synth here rather than every request at the authorizer's cold start.
        identityConfig(environment);
      }
      authorizer = new TaskgateFunction(this, 'AuthorizerFunction', {
        ...common, handlerDir: 'authorizer', description: 'taskgate X-Auth-Token authorizer', timeout: Duration.seconds(10), environment,
      });
      this.keystoneSecret?.grantRead(authorizer.role);
    }

    this.functions = { api, compute, sweeper, deadLetter, ...(authorizer ? { authorizer } : {}) };
    const gateway = {
      handler: api.fn,
      stageName: props.apiStageName ?? 'compute',
      throttle: props.apiThrottle ?? { rateLimit: 100, burstLimit: 200 },
      logRetention: common.logRetention,
      logRemovalPolicy: retained,
      authorizer: authorizer?.fn,
    };
    if (props.apiType === 'http') {
      // What the HTTP API cannot carry is refused by name rather than dropped.
      if (props.webAclArn) throw new Error('-c api=http cannot take -c webAclArn: API Gateway associates web ACLs with REST API stages only');
      if (props.customDomain) throw new Error('-c api=http with a custom domain is not supported yet: use the REST API (the default)');
      this.httpApi = new NovaHttpApi(this, 'NovaHttpApi', gateway);
    } else {
      this.api = new NovaApi(this, 'NovaApi', {
        ...gateway, webAclArn: props.webAclArn, cloudWatchRole: props.apiGatewayCloudWatchRole ?? false,
      });
    }

    this.alarms = new OperationsAlarms(this, 'Alarms', {
      functions: { Api: api.fn, Compute: compute.fn, Sweeper: sweeper.fn, DeadLetter: deadLetter.fn },
      queue, deadLetterQueue,
      oldestMessageAgeThreshold: Duration.seconds(oldestOperationAlarmSeconds(leases)),
      alarmTopicArn: props.alarmTopicArn,
    });

    if (props.customDomain && this.api) this.customDomain = new CustomDomain(this, 'CustomDomain', { api: this.api.api, ...props.customDomain });

    // One URL: the Nova endpoint clients are given. On LocalStack, build it from RestApiId (docs/deploying.md).
    new CfnOutput(this, 'ApiUrl', {
      value: props.customDomain ? `https://${props.customDomain.domainName}/v2.1` : this.api ? `${this.api.api.url}v2.1` : `${this.httpApi!.url}/v2.1`,
      description: 'Nova v2.1 endpoint (OS_ENDPOINT; TASKGATE_API_URL for npm run test:e2e)',
    });
    if (this.keystoneSecret) {
      new CfnOutput(this, 'KeystoneSecretArn', {
        value: this.keystoneSecret.secretArn,
        description: 'Keystone mode: the secret with taskgate\'s service user; set its password with aws secretsmanager put-secret-value (docs/deploying.md)',
      });
    }
    if (this.api) new CfnOutput(this, 'RestApiId', { value: this.api.api.restApiId, description: 'For the LocalStack URL, which ApiUrl is not' });
    new CfnOutput(this, 'TableName', { value: tableName });
    new CfnOutput(this, 'QueueUrl', { value: queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: deadLetterQueue.queueUrl });

    suppressAcceptedFindings(this, { webAcl: Boolean(props.webAclArn) });
  }
}

/** The spread's JSON, checked as the functions will read it. */
function spreadVariable(json: string): string {
  projectSpreads({ TASKGATE_PROJECT_SPREAD: json });
  return json;
}

/** The hosts' JSON, checked as the functions will read it (a bad list fails the synth, not the first request). */
function hostsVariable(json: string): string {
  computeHosts({ TASKGATE_COMPUTE_HOSTS: json });
  return json;
}
