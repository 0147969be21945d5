import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TaskgateStack, type TaskgateStackProps } from '../../lib/taskgateStack.js';

/** cdk.json's context: the feature flags `cdk synth` and `cdk deploy` run with, so the tests see the same template. */
export const CDK_JSON_CONTEXT: Record<string, unknown> =
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

/**
 * Synthesizes the stack for assertions, with cdk.json's feature flags. Bundling is skipped (CDK's own `aws:cdk:bundling-stacks`
 * context, what `cdk deploy --exclusively` uses) so that a synth takes a second, not four esbuild
 * runs; bundling.test.ts bundles for real.
 */
export function synth(props: TaskgateStackProps = {}, opts: { bundle?: boolean; outdir?: string } = {}) {
  const app = new App({
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
    context: { ...CDK_JSON_CONTEXT, ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new TaskgateStack(app, 'Test', { auth: { mode: 'noauth' }, ...props });
  const template = Template.fromStack(stack);
  return { app, stack, template };
}

/** The logical id of a construct's CloudFormation resource. */
export function logicalId(stack: TaskgateStack, resource: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(resource.node.defaultChild as never);
}
