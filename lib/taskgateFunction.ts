import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture, ApplicationLogLevel, Code, Function as LambdaFunction, LoggingFormat, Runtime, SystemLogLevel, Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { esbuildTarget, NODE_WRAPPER_FILE } from './functionBundle.js';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const bundler = fileURLToPath(new URL('./functionBundle.ts', import.meta.url));

/**
 * Newest Node.js that both AWS Lambda and LocalStack run (LocalStack's runtime list has
 * nodejs24.x). A LocalStack too old for it can take `-c lambdaRuntime=nodejs22.x`.
 */
export const DEFAULT_RUNTIME = Runtime.NODEJS_24_X;

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
 * One taskgate Lambda: bundled locally by esbuild (no Docker to synth) into an entry and chunks
 * loaded on first use (lib/functionBundle.ts), arm64, JSON logs into its
 * own log group with a retention, active tracing, and a role of its own that starts with nothing
 * but writing to that log group: every table and queue permission is added by name, per function.
 */
export class TaskgateFunction extends Construct {
  readonly fn: LambdaFunction;
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

    const runtime = props.runtime ?? DEFAULT_RUNTIME;
    this.fn = new LambdaFunction(this, 'Function', {
      // Not NodejsFunction: it writes one file, inlining every import() (lib/functionBundle.ts).
      // The hash is the output's, as NodejsFunction's; a synth that skips bundling (the
      // `aws:cdk:bundling-stacks` context) never runs the build.
      code: Code.fromAsset(projectRoot, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Never pulled: the local build below always runs. The command is also what tells the
          // assets apart: CDK reuses one bundling's output for another with the same options.
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
          command: ['node', '--import', 'tsx', 'lib/functionBundle.ts', props.handlerDir, '/asset-output', esbuildTarget(runtime.name)],
          local: {
            tryBundle(outputDir) {
              execFileSync(process.execPath, ['--import', 'tsx', bundler, props.handlerDir, outputDir, esbuildTarget(runtime.name)], {
                cwd: projectRoot, stdio: ['ignore', 'ignore', 'inherit'],
              });
              return true;
            },
          },
        },
      }),
      handler: 'index.handler',
      description: props.description,
      runtime,
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
      // Node starts with taskgate's V8 flags (a young generation that holds the whole load, no
      // scavenge at init: lib/functionBundle.ts NODE_FLAGS), which NODE_OPTIONS may not carry.
      environment: { AWS_LAMBDA_EXEC_WRAPPER: `/var/task/${NODE_WRAPPER_FILE}`, ...props.environment },
    });
  }
}
