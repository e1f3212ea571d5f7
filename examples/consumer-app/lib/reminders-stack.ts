/**
 * One stack: tickset's `ScheduledTasks` (cache, tick, event bus), two handler Lambdas and a producer Lambda
 * allowed to schedule jobs. `TicksetFunction` bundles each TypeScript entry with the esbuild tickset brings;
 * the tick is the bundle prebuilt inside the tickset package.
 */
import { join } from 'node:path';
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ScheduledTasks, TicksetFunction } from 'tickset/infra';

const here = import.meta.dirname;

export class RemindersStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const tasks = new ScheduledTasks(this, 'Tasks');
    const inVpc = { vpc: tasks.vpc, vpcSubnets: tasks.vpcSubnets };

    const sendReminder = new TicksetFunction(this, 'SendReminder', {
      entry: join(here, '..', 'handlers', 'send-reminder.ts'),
      timeout: Duration.seconds(10),
      ...inVpc,
    });
    tasks.addHandler('send-reminder', sendReminder);

    const sendDigest = new TicksetFunction(this, 'SendDigest', {
      entry: join(here, '..', 'handlers', 'send-digest.ts'),
      timeout: Duration.seconds(30),
      ...inVpc,
    });
    tasks.addHandler('send-digest', sendDigest, { rateLimit: { perSecond: 5, maxInFlight: 10 } });

    const producer = new TicksetFunction(this, 'Producer', {
      entry: join(here, '..', 'producer', 'producer.ts'),
      ...inVpc,
    });
    tasks.grantSchedule(producer);
  }
}
