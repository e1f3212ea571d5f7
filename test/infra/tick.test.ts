/** The tick: its schedule rule, its Lambda settings per precision, and the environment it gets. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { environmentOf, inlineFunction, logicalId, tasksStack } from './support.js';

describe('tick, second precision (default)', () => {
  // GIVEN a ScheduledTasks with two handlers, one rate limited
  const s = tasksStack();
  s.tasks.addHandler('send-reminder', inlineFunction(s, 'Reminder'));
  s.tasks.addHandler('sync-device', inlineFunction(s, 'Sync'), {
    rateLimit: { perSecond: 5, maxInFlight: 20 },
  });
  // WHEN synthesized
  const template = Template.fromStack(s.stack);
  const tickId = logicalId(template, 'AWS::Lambda::Function', 'TickFunction');

  it('starts the tick every minute from an EventBridge rule', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [tickId, 'Arn'] },
          RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [tickId, 'Arn'] },
      Principal: 'events.amazonaws.com',
    });
  });

  it('runs Node.js 22 on arm64 in the private subnets, 90 s timeout, 2 reserved executions', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 90,
      ReservedConcurrentExecutions: 2,
      Handler: 'index.handler',
      VpcConfig: {
        SubnetIds: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp('Private') })]),
      },
    });
  });

  it('turns off Lambda async retries for the tick', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: tickId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('passes bus, precision, leases and rate limits to the tick', () => {
    const env = environmentOf(template, 'TickFunction');
    expect(env).toMatchObject({
      TICKSET_EVENT_BUS_NAME: { Ref: logicalId(template, 'AWS::Events::EventBus', 'Bus') },
      TICKSET_EVENT_SOURCE: 'tickset',
      TICKSET_EVENT_DETAIL_TYPE: 'tickset.task',
      TICKSET_PRECISION: 'second',
      TICKSET_LEASE_MS: '60000',
      TICKSET_NAMESPACE: 'tickset',
      TICKSET_SHARDS: '1',
      TICKSET_HANDLERS: 'send-reminder,sync-device',
      TICKSET_REDIS_TLS: 'true',
      TICKSET_REDIS_CLUSTER: 'false',
      POWERTOOLS_METRICS_NAMESPACE: 'Tickset',
      POWERTOOLS_SERVICE_NAME: 'tickset-tick',
    });
    // lease = 120 s target age + 60 s async age + 10 s timeout + 30 s margin
    expect(JSON.parse(env.TICKSET_LEASES as string)).toEqual({
      'send-reminder': 220_000,
      'sync-device': 220_000,
    });
    expect(JSON.parse(env.TICKSET_RATE_LIMITS as string)).toEqual({
      'sync-device': { perSecond: 5, maxInFlight: 20 },
    });
    expect(s.tasks.leases).toEqual({ 'send-reminder': 220_000, 'sync-device': 220_000 });
  });

  it('gives the tick the cache endpoint as a rediss:// URL and the auth secret', () => {
    const env = environmentOf(template, 'TickFunction');
    expect(JSON.stringify(env.TICKSET_REDIS_URL)).toContain('rediss://');
    expect(JSON.stringify(env.TICKSET_REDIS_URL)).toContain('PrimaryEndPoint.Address');
    expect(env.TICKSET_REDIS_AUTH_SECRET_ARN).toEqual({
      Ref: logicalId(template, 'AWS::SecretsManager::Secret', 'Cache'),
    });
  });
});

describe('tick, minute precision', () => {
  it('uses a short timeout and tells the tick to do one pass', () => {
    // GIVEN minute precision and no reserved concurrency (an account limited to 10)
    const s = tasksStack({ precision: 'minute', tickReservedConcurrency: 0, tickMemorySize: 1024 });
    // WHEN synthesized
    const template = Template.fromStack(s.stack);
    // THEN
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 50,
      MemorySize: 1024,
      ReservedConcurrentExecutions: Match.absent(),
      Description: Match.stringLikeRegexp('minute precision'),
    });
    expect(environmentOf(template, 'TickFunction').TICKSET_PRECISION).toBe('minute');
  });
});

describe('ScheduledTasks props validation', () => {
  it('rejects a bad namespace or shard count with a message that says what to use', () => {
    expect(() => tasksStack({ namespace: 'no spaces' })).toThrow(
      /Invalid namespace "no spaces": use 1 to 64/,
    );
    expect(() => tasksStack({ shards: 0 })).toThrow(/shards is 0: use a whole number from 1 to 1024/);
    expect(() => tasksStack({ tickReservedConcurrency: -1 })).toThrow(/use 2 \(or 0 to reserve nothing\)/);
  });
});
