import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, ApplicationLogLevel, LoggingFormat, Runtime, SystemLogLevel, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const entryOf = (name: string) => fileURLToPath(new URL(`../functions/${name}/handler.ts`, import.meta.url));

/**
 * Newest Node.js that both AWS Lambda and LocalStack run (LocalStack's runtime list has
 * nodejs24.x). A LocalStack too old for it can take `-c lambdaRuntime=nodejs22.x`.
 */
export const DEFAULT_RUNTIME = Runtime.NODEJS_24_X;

/**
 * esbuild emits ESM (the handlers and middy are ES modules); a few CommonJS dependencies call
 * `require`, which an ES module does not have, so the bundle creates one.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** Each function's memory unless the stack says otherwise (docs/costs.md: sized from the bench's durations). */
export const DEFAULT_MEMORY_MB = 512;

export interface TaskgateFunctionProps {
  /** The directory under functions/ whose handler.ts is the entry. */
  readonly handlerDir: 'api' | 'apiEc2' | 'compute' | 'computeEc2' | 'sweeper' | 'dlq' | 'authorizer' | 'drift';
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly environment: Record<string, string>;
  readonly runtime?: Runtime;
  readonly logRetention: RetentionDays;
  /** RETAIN keeps the logs of a deleted stack; DESTROY for throwaway stacks. */
  readonly logRemovalPolicy: RemovalPolicy;
}

/**
 * One taskgate Lambda: bundled locally by esbuild (no Docker to synth), arm64, JSON logs into its
 * own log group with a retention, active tracing, and a role of its own that starts with nothing
 * but writing to that log group: every table and queue permission is added by name, per function.
 */
export class TaskgateFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: TaskgateFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: props.logRemovalPolicy });
    // Not AWSLambdaBasicExecutionRole: that managed policy lets the function write to any log group.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `taskgate ${props.handlerDir} function`,
    });
    this.logGroup.grant(this.role, 'logs:CreateLogStream', 'logs:PutLogEvents');

    this.fn = new NodejsFunction(this, 'Function', {
      entry: entryOf(props.handlerDir),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      description: props.description,
      runtime: props.runtime ?? DEFAULT_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? DEFAULT_MEMORY_MB,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.WARN,
      tracing: Tracing.ACTIVE,
      // No --enable-source-maps: Node would read and parse the whole map (4 MB for the API) at every
      // cold start, about a third more init CPU (docs/costs.md); the map ships beside the bundle
      // for reading a minified stack trace after the fact.
      environment: props.environment,
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        // esbuild reports only errors: a synth that works prints nothing.
        logLevel: LogLevel.ERROR,
        // Bundle the AWS SDK too: the version in package-lock.json is the one the tests ran,
        // not whichever the runtime happens to ship.
        externalModules: [],
      },
    });
  }
}
