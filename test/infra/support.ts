/** Helpers for the infra tests: small stacks around `ScheduledTasks`, synthesized without bundling. */
import { App, Duration, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { ScheduledTasksProps } from '../../infra/props.js';
import { ScheduledTasks } from '../../infra/scheduled-tasks.js';

export interface TestStack {
  readonly app: App;
  readonly stack: Stack;
  readonly tasks: ScheduledTasks;
}

/**
 * A stack with `ScheduledTasks`; NodejsFunction bundling is skipped (the sample-app test bundles). `props` may
 * be a function of the stack, for props that need a scope (imported resources).
 */
export function tasksStack(
  props: ScheduledTasksProps | ((stack: Stack) => ScheduledTasksProps) = {},
): TestStack {
  // No bundling and no built-in CloudFormation validation here (10 s each): the sample-app test does both.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test');
  const tasks = new ScheduledTasks(stack, 'Tasks', typeof props === 'function' ? props(stack) : props);
  return { app, stack, tasks };
}

/** A plain Lambda function, in the tickset VPC unless `inVpc` is false. */
export function inlineFunction(
  { stack, tasks }: TestStack,
  id: string,
  options: { inVpc?: boolean; timeout?: Duration } = {},
): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
    timeout: options.timeout ?? Duration.seconds(10),
    ...(options.inVpc === false ? {} : { vpc: tasks.vpc, vpcSubnets: tasks.vpcSubnets }),
  });
}

/** The logical id of the only resource of `type` whose logical id contains `hint`. */
export function logicalId(template: Template, type: string, hint: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.includes(hint));
  if (ids.length !== 1)
    throw new Error(`expected one ${type} matching ${hint}, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}

/** The environment variables of the Lambda function whose logical id contains `hint`. */
export function environmentOf(template: Template, hint: string): Record<string, unknown> {
  const id = logicalId(template, 'AWS::Lambda::Function', hint);
  const fn = template.toJSON().Resources[id] as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  };
  return fn.Properties.Environment.Variables;
}

/** Every acknowledgement every stack tickset synthesizes makes (the sample app, every variant); a new one needs a reason and a review. */
export const EXPECTED_ACKNOWLEDGEMENTS = [
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
  'AwsSolutions-L1',
  'AwsSolutions-SMG4',
  'AwsSolutions-SQS3',
];
