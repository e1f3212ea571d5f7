/**
 * The sample stack (`npx cdk synth` / `npx cdk deploy`): `ScheduledTasks` with its defaults, two example
 * handlers and a producer Lambda that schedules jobs. cdk-nag (AWS Solutions) checks the whole app.
 */
import { join } from 'node:path';
import { App, type AppProps, CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { PACKAGE_ROOT, TicksetFunction } from './function.js';
import type { ScheduledTasksProps } from './props.js';
import { ScheduledTasks } from './scheduled-tasks.js';

export interface TicksetSampleStackProps extends StackProps {
  /**
   * Passed to `ScheduledTasks`, or a function of the stack returning them (for props that need a scope, such
   * as a VPC made in this stack). @default - its defaults
   */
  readonly tasks?: ScheduledTasksProps | ((stack: Stack) => ScheduledTasksProps);
}

const EXAMPLES = join(PACKAGE_ROOT, 'functions', 'examples');

export class TicksetSampleStack extends Stack {
  readonly tasks: ScheduledTasks;

  constructor(scope: Construct, id: string, props: TicksetSampleStackProps = {}) {
    super(scope, id, { description: 'tickset sample: scheduled tasks on AWS', ...props });
    this.tasks = new ScheduledTasks(
      this,
      'Tasks',
      typeof props.tasks === 'function' ? props.tasks(this) : props.tasks,
    );
    const inVpc = { vpc: this.tasks.vpc, vpcSubnets: this.tasks.vpcSubnets };

    const sendReminder = new TicksetFunction(this, 'SendReminder', {
      description: 'tickset example handler: send-reminder',
      entry: join(EXAMPLES, 'send-reminder.ts'),
      timeout: Duration.seconds(10),
      ...inVpc,
    });
    this.tasks.addHandler('send-reminder', sendReminder);

    const syncDevice = new TicksetFunction(this, 'SyncDevice', {
      description: 'tickset example handler: sync-device (calls a partner API)',
      entry: join(EXAMPLES, 'sync-device.ts'),
      timeout: Duration.seconds(30),
      ...inVpc,
    });
    this.tasks.addHandler('sync-device', syncDevice, { rateLimit: { perSecond: 5, maxInFlight: 20 } });

    const producer = new TicksetFunction(this, 'Producer', {
      description: 'tickset example producer: schedules reminders and device syncs',
      entry: join(EXAMPLES, 'producer.ts'),
      timeout: Duration.seconds(10),
      ...inVpc,
    });
    this.tasks.grantSchedule(producer);

    new CfnOutput(this, 'CacheEndpoint', {
      value: this.tasks.cache.url,
      description: 'TICKSET_REDIS_URL for the CLI',
    });
    new CfnOutput(this, 'CacheSecretArn', {
      value: this.tasks.cache.authSecret?.secretArn ?? '-',
      description: 'Secret with the cache password / AUTH token',
    });
    new CfnOutput(this, 'EventBusName', { value: this.tasks.eventBus.eventBusName });
    new CfnOutput(this, 'ProducerFunctionName', { value: producer.functionName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.tasks.alarmTopic?.topicArn ?? '-' });
  }
}

/** Builds the sample app with cdk-nag's AWS Solutions checks registered. Tests call it too. */
export function createSampleApp(props: AppProps = {}): { app: App; stack: TicksetSampleStack } {
  const app = new App(props);
  const alarmEmail = app.node.tryGetContext('alarmEmail') as string | undefined;
  const stack = new TicksetSampleStack(app, 'TicksetSample', {
    ...(alarmEmail ? { tasks: { alarmEmail } } : {}),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
