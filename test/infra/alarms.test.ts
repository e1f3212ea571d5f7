/** Alarms (metrics, thresholds, missing-data handling), the topic, the dashboard and the metric* methods. */
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { inlineFunction, logicalId, tasksStack } from './support.js';

const TICK_DIMENSIONS = [
  { Name: 'Namespace', Value: 'tickset' },
  { Name: 'service', Value: 'tickset-tick' },
];

describe('alarms with default thresholds', () => {
  // GIVEN ScheduledTasks with an alarm e-mail and one handler
  const s = tasksStack({ alarmEmail: 'ops@example.com' });
  s.tasks.addHandler('send-reminder', inlineFunction(s, 'Reminder'));
  // WHEN synthesized
  const template = Template.fromStack(s.stack);
  const topicId = logicalId(template, 'AWS::SNS::Topic', 'Topic');
  const alarm = (hint: string) =>
    template.toJSON().Resources[logicalId(template, 'AWS::CloudWatch::Alarm', hint)].Properties;

  it('sends every alarm (and its recovery) to one topic', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(11);
    for (const a of Object.values(alarms)) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  it('lets CloudWatch (this account only) publish to the topic, whose policy replaces the default one', () => {
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    const policy = policies[0]!.Properties;
    expect(policy.Topics).toEqual([{ Ref: topicId }]);
    const allow = policy.PolicyDocument.Statement.filter(
      (s: { Effect: string; Action: unknown }) => s.Effect === 'Allow' && s.Action === 'sns:Publish',
    );
    expect(allow).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Resource: { Ref: topicId },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
    // ... and it still denies publishing without TLS
    expect(policy.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('alarms on tick errors and throttles', () => {
    const tick = { Ref: logicalId(template, 'AWS::Lambda::Function', 'TickFunction') };
    for (const [hint, metricName] of [
      ['TickErrors', 'Errors'],
      ['TickThrottles', 'Throttles'],
    ] as const) {
      expect(alarm(hint)).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: metricName,
        Dimensions: [{ Name: 'FunctionName', Value: tick }],
        Period: 300,
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
      });
    }
  });

  it('alarms when the tick heartbeat is missing for 3 minutes (missing data breaches)', () => {
    expect(alarm('TickHeartbeatMissing')).toMatchObject({
      Namespace: 'Tickset',
      MetricName: 'TickHeartbeat',
      Dimensions: TICK_DIMENSIONS,
      Period: 60,
      Statistic: 'Sum',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
  });

  it('alarms on any dead-lettered task, from the tick or a handler', () => {
    const props = alarm('TasksDeadLettered');
    expect(props).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(props.Metrics[0].Expression).toBe('FILL(tick, 0) + FILL(handler, 0)');
    const services = props.Metrics.slice(1).map(
      (m: { MetricStat: { Metric: { MetricName: string; Dimensions: { Value: string }[] } } }) => [
        m.MetricStat.Metric.MetricName,
        m.MetricStat.Metric.Dimensions.map((d) => d.Value).join('/'),
      ],
    );
    expect(services).toEqual([
      ['TasksDeadLettered', 'tickset/tickset-tick'],
      ['TasksDeadLettered', 'tickset/tickset-handler'],
    ]);
  });

  it('alarms when the oldest due task waited over a minute, 3 minutes in a row', () => {
    expect(alarm('BacklogLag')).toMatchObject({
      MetricName: 'OldestDueAgeMs',
      Dimensions: TICK_DIMENSIONS,
      Statistic: 'Maximum',
      Threshold: 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
    });
  });

  it('alarms on publish failures in 2 of 3 periods', () => {
    expect(alarm('PublishFailures')).toMatchObject({
      MetricName: 'PublishFailures',
      Dimensions: TICK_DIMENSIONS,
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
  });

  it('alarms on each handler’s Lambda errors and its DLQ depth', () => {
    expect(alarm('HandlerErrorssendreminder')).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: logicalId(template, 'AWS::Lambda::Function', 'Reminder') } },
      ],
      Threshold: 1,
    });
    expect(alarm('DeadLetterQueuesendreminder')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('alarms on cache memory (fullest node) over 75% and on any eviction', () => {
    const memory = alarm('CacheMemory');
    expect(memory).toMatchObject({ Threshold: 75, ComparisonOperator: 'GreaterThanThreshold' });
    expect(memory.Metrics[0].Expression).toBe('MAX(METRICS())');
    expect(memory.Metrics[1].MetricStat.Metric).toMatchObject({
      Namespace: 'AWS/ElastiCache',
      MetricName: 'DatabaseMemoryUsagePercentage',
    });
    // a primary and a replica
    expect(memory.Metrics).toHaveLength(3);
    const evictions = alarm('CacheEvictions');
    expect(evictions).toMatchObject({ Threshold: 1 });
    expect(evictions.Metrics[1].MetricStat.Metric.MetricName).toBe('Evictions');
  });

  it('puts the same signals and every alarm on the dashboard', () => {
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    for (const name of [
      'TasksDispatched',
      'TasksSucceeded',
      'TasksFailed',
      'TasksRetried',
      'TasksDeadLettered',
      'TasksExpired',
      'PublishFailures',
      'TaskLagMs',
      'HandlerStartLagMs',
      'OldestDueAgeMs',
      'TickHeartbeat',
      'DatabaseMemoryUsagePercentage',
      'Evictions',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      expect(body).toContain(name);
    }
    for (const id of Object.keys(template.findResources('AWS::CloudWatch::Alarm')))
      expect(body).toContain(id);
  });
});

describe('alarm options', () => {
  it('takes thresholds as props', () => {
    // GIVEN
    const s = tasksStack({
      precision: 'minute',
      alarms: {
        backlogLagThreshold: Duration.minutes(10),
        heartbeatMissingMinutes: 5,
        cacheMemoryPercentThreshold: 90,
      },
    });
    // WHEN
    const template = Template.fromStack(s.stack);
    // THEN
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'OldestDueAgeMs',
      Threshold: 600_000,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'TickHeartbeat',
      EvaluationPeriods: 5,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 90,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('uses 3 minutes of backlog lag by default in minute precision', () => {
    const template = Template.fromStack(tasksStack({ precision: 'minute' }).stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'OldestDueAgeMs',
      Threshold: 180_000,
    });
  });

  it('makes no alarms, topic or dashboard when turned off', () => {
    const s = tasksStack({ alarms: false, dashboard: false });
    s.tasks.addHandler('h', inlineFunction(s, 'H'));
    const template = Template.fromStack(s.stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(s.tasks.alarmTopic).toBeUndefined();
  });
});

describe('metric methods', () => {
  it('return tickset metrics with the Namespace and service dimensions', () => {
    // GIVEN a custom namespace and metrics namespace
    const s = tasksStack({ namespace: 'orders', metricsNamespace: 'MyApp' });
    const stack = Stack.of(s.tasks);
    // WHEN / THEN
    const tick = { Namespace: 'orders', service: 'tickset-tick' };
    const handler = { Namespace: 'orders', service: 'tickset-handler' };
    const cases = [
      [s.tasks.metricDispatched(), 'TasksDispatched', tick, 'Sum'],
      [s.tasks.metricSucceeded(), 'TasksSucceeded', handler, 'Sum'],
      [s.tasks.metricFailed(), 'TasksFailed', handler, 'Sum'],
      [s.tasks.metricRetried(), 'TasksRetried', handler, 'Sum'],
      [s.tasks.metricExpired(), 'TasksExpired', tick, 'Sum'],
      [s.tasks.metricPublishFailures(), 'PublishFailures', tick, 'Sum'],
      [s.tasks.metricLag(), 'TaskLagMs', tick, 'p99'],
      [s.tasks.metricLag({}, 'handler'), 'HandlerStartLagMs', handler, 'p99'],
      [s.tasks.metricOldestDueAge(), 'OldestDueAgeMs', tick, 'Maximum'],
      [s.tasks.metricTickHeartbeat(), 'TickHeartbeat', tick, 'Sum'],
    ] as const;
    for (const [metric, name, dimensions, statistic] of cases) {
      expect(metric).toMatchObject({ namespace: 'MyApp', metricName: name, dimensions, statistic });
    }
    const dead = s.tasks.metricDeadLettered().toMetricConfig().mathExpression;
    expect(dead?.expression).toBe('FILL(tick, 0) + FILL(handler, 0)');
    expect(stack.resolve(dead?.usingMetrics.handler)).toMatchObject({ dimensions: handler });
  });
});
