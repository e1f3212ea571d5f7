/**
 * `TicksetAlarms`: the alarms docs/OPERATIONS.md has a runbook entry for, sent to one SNS topic.
 * Each alarm description names the first command to run.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Precision } from '../src/config/env.js';
import { AWS_METRICS } from '../src/config/env.js';
import type { TicksetCache } from './cache.js';
import type { TicksetMetrics } from './metrics.js';

/** Alarm thresholds; every alarm fires at or above its threshold unless noted. */
export interface TicksetAlarmOptions {
  /** Tick Lambda errors in 5 minutes. @default 1 */
  readonly tickErrorsThreshold?: number;
  /** Tick Lambda throttles in 5 minutes. @default 1 */
  readonly tickThrottlesThreshold?: number;
  /** Consecutive minutes without a TickHeartbeat before alarming (missing data breaches). @default 3 */
  readonly heartbeatMissingMinutes?: number;
  /** Tasks dead-lettered in 5 minutes. @default 1 */
  readonly deadLetteredThreshold?: number;
  /**
   * Age of the oldest due, unclaimed task (OldestDueAgeMs), 3 minutes in a row.
   * @default - 1 minute with `second` precision, 3 minutes with `minute` precision
   */
  readonly backlogLagThreshold?: Duration;
  /** Errors of one handler Lambda in 5 minutes (the wrapper itself failing, not a task failure). @default 1 */
  readonly handlerErrorsThreshold?: number;
  /** PublishFailures in 5 minutes, in 2 of the last 3 periods (a single burst is retried). @default 1 */
  readonly publishFailuresThreshold?: number;
  /** Cache memory used, percent. @default 75 */
  readonly cacheMemoryPercentThreshold?: number;
}

export interface TicksetAlarmsProps extends TicksetAlarmOptions {
  readonly metrics: TicksetMetrics;
  readonly precision: Precision;
  readonly tick: lambda.IFunction;
  readonly cache: TicksetCache;
  /** @default - a new topic (KMS encrypted, TLS only) */
  readonly topic?: sns.ITopic;
  /** @default - no subscription */
  readonly alarmEmail?: string;
}

const FIVE_MINUTES = Duration.minutes(5);
const GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;

export class TicksetAlarms extends Construct {
  readonly topic: sns.ITopic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly #props: TicksetAlarmsProps;

  constructor(scope: Construct, id: string, props: TicksetAlarmsProps) {
    super(scope, id);
    this.#props = props;
    this.topic = props.topic ?? this.#newTopic();
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const m = props.metrics;
    const tick = props.tick;

    this.add('TickErrors', tick.metricErrors({ period: FIVE_MINUTES }), props.tickErrorsThreshold ?? 1, {
      description: 'tickset: the tick Lambda failed. Run `tickset status`, then read the tick logs.',
    });
    this.add(
      'TickThrottles',
      tick.metricThrottles({ period: FIVE_MINUTES }),
      props.tickThrottlesThreshold ?? 1,
      {
        description: 'tickset: the tick Lambda was throttled. Check reserved and account concurrency.',
      },
    );
    const minutes = props.heartbeatMissingMinutes ?? 3;
    this.add('TickHeartbeatMissing', m.tickHeartbeat({ period: Duration.minutes(1) }), 1, {
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: minutes,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: `tickset: no tick heartbeat for ${minutes} minutes. Run \`tickset status\` (tick: NOT RUNNING?).`,
    });
    this.add(
      'TasksDeadLettered',
      m.deadLettered({ period: FIVE_MINUTES }),
      props.deadLetteredThreshold ?? 1,
      {
        description:
          'tickset: tasks moved to the dead set. Run `tickset list --state dead`, fix, `tickset dead replay`.',
      },
    );
    const lag = props.backlogLagThreshold ?? Duration.minutes(props.precision === 'second' ? 1 : 3);
    this.add('BacklogLag', m.oldestDueAge({ period: Duration.minutes(1) }), lag.toMilliseconds(), {
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      description: `tickset: a due task has waited over ${lag.toHumanString()}. Run \`tickset status\` (paused? rate limited?).`,
    });
    this.add(
      'PublishFailures',
      m.publishFailures({ period: FIVE_MINUTES }),
      props.publishFailuresThreshold ?? 1,
      {
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        description:
          'tickset: PutEvents keeps failing (tasks are retried). Read the tick logs; `tickset status`.',
      },
    );
    const cache = props.cache;
    // One alarm per group of at most 10 cache nodes (alarm metric math takes 10 metrics): every node is
    // watched. The first keeps the id it always had.
    cache.memoryUsagePercent.forEach((metric, i) => {
      this.add(`CacheMemory${i === 0 ? '' : i + 1}`, metric, props.cacheMemoryPercentThreshold ?? 75, {
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        description:
          'tickset: cache memory is filling up (writes fail at 100%). `tickset status`; purge dead jobs.',
      });
    });
    cache.evictions.forEach((metric, i) => {
      this.add(`CacheEvictions${i === 0 ? '' : i + 1}`, metric, 1, {
        description:
          'tickset: the cache evicted keys. Jobs may be lost: check maxmemory-policy is noeviction.',
      });
    });
  }

  /** Alarms for one handler: its Lambda errors and its EventBridge dead-letter queue. */
  addHandler(name: string, fn: lambda.IFunction, deadLetterQueue: sqs.IQueue): void {
    this.add(
      `HandlerErrors-${name}`,
      fn.metricErrors({ period: FIVE_MINUTES }),
      this.#props.handlerErrorsThreshold ?? 1,
      {
        description: `tickset: handler '${name}' Lambda errors. \`tickset list --state dead --handler ${name}\`; \`tickset pause ${name}\` if a dependency is down.`,
      },
    );
    // Handlers run with async retryAttempts 0 and a short maxEventAge: an event Lambda accepted and then
    // dropped (throttled past its age, or a failed invocation not retried) is only visible here.
    this.add(
      `AsyncEventsDropped-${name}`,
      fn.metric(AWS_METRICS.lambdaAsyncEventsDropped.metricName, {
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.SUM,
      }),
      1,
      {
        description: `tickset: Lambda dropped task events for handler '${name}' without running them (throttled past their max age, or failed with retries off). They are redelivered when their lease ends; check the function's concurrency and errors, then \`tickset status\`.`,
      },
    );
    const depth = deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: FIVE_MINUTES,
      statistic: cloudwatch.Stats.MAXIMUM,
    });
    this.add(`DeadLetterQueue-${name}`, depth, 1, {
      description: `tickset: EventBridge could not deliver to handler '${name}'. Read the DLQ, then \`tickset dead replay\`.`,
    });
  }

  /** One alarm to the topic; missing data is fine unless said otherwise. */
  add(
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    options: Partial<cloudwatch.CreateAlarmOptions> & { description: string },
  ): cloudwatch.Alarm {
    const { description, ...rest } = options;
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: GTE,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
      ...rest,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }

  #newTopic(): sns.Topic {
    // CloudWatch can publish to an encrypted topic only with a customer managed key that lets it use the key.
    // Deleted with the stack (after KMS's 7-day waiting period): nothing outlives the topic that needs it.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'tickset: alarm topic encryption',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    key.grant(cloudWatch, 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new sns.Topic(this, 'Topic', {
      displayName: 'tickset alarms',
      masterKey: key,
      enforceSSL: true,
    });
    // enforceSSL creates an AWS::SNS::TopicPolicy, and a topic policy *replaces* the topic's default policy
    // (the one that lets CloudWatch publish). Without this statement no alarm notification is ever delivered.
    const account = Stack.of(this).account;
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    return topic;
  }
}
