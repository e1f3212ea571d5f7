/** addHandler: the routing rule, the target's retry policy and DLQ, async config, lease and validation. */
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { environmentOf, inlineFunction, logicalId, tasksStack } from './support.js';

describe('addHandler', () => {
  // GIVEN a handler with a 30 s timeout and a custom lease margin on a custom namespace
  const s = tasksStack({ namespace: 'orders' });
  const fn = inlineFunction(s, 'Reminder', { timeout: Duration.seconds(30) });
  const route = s.tasks.addHandler('send-reminder', fn, { leaseMargin: Duration.seconds(15) });
  // WHEN synthesized
  const template = Template.fromStack(s.stack);
  const fnId = logicalId(template, 'AWS::Lambda::Function', 'Reminder');
  const busId = logicalId(template, 'AWS::Events::EventBus', 'Bus');
  const dlqId = logicalId(template, 'AWS::SQS::Queue', 'sendreminder');

  it('routes only this handler’s tasks of this namespace, on the tickset bus', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: busId },
      EventPattern: {
        source: ['tickset'],
        'detail-type': ['tickset.task'],
        detail: { handler: ['send-reminder'], namespace: ['orders'] },
      },
    });
  });

  it('delivers with a short event age, a few retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          RetryPolicy: { MaximumEventAgeInSeconds: 120, MaximumRetryAttempts: 3 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
        }),
      ],
    });
  });

  it('makes the DLQ encrypted, TLS only, writable by EventBridge for this rule', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlqId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('turns Lambda’s own async retries off with a short event age', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('derives the lease from both event ages, the timeout and the margin', () => {
    // 120 s + 60 s + 30 s + 15 s
    expect(route.leaseMs).toBe(225_000);
    expect(JSON.parse(environmentOf(template, 'TickFunction').TICKSET_LEASES as string)).toEqual({
      'send-reminder': 225_000,
    });
  });

  it('gives the wrapper the cache connection, namespace and metric settings', () => {
    expect(environmentOf(template, 'Reminder')).toMatchObject({
      TICKSET_NAMESPACE: 'orders',
      TICKSET_SHARDS: '1',
      TICKSET_HANDLERS: 'send-reminder',
      TICKSET_REDIS_TLS: 'true',
      TICKSET_REDIS_AUTH_SECRET_ARN: { Ref: logicalId(template, 'AWS::SecretsManager::Secret', 'Cache') },
      POWERTOOLS_METRICS_NAMESPACE: 'Tickset',
      POWERTOOLS_SERVICE_NAME: 'tickset-handler',
    });
  });
});

describe('addHandler options and validation', () => {
  it('honours custom delivery settings', () => {
    // GIVEN
    const s = tasksStack();
    // WHEN
    const route = s.tasks.addHandler('a.b_c-1', inlineFunction(s, 'Fn'), {
      maxEventAge: Duration.minutes(5),
      retryAttempts: 1,
      asyncMaxEventAge: Duration.minutes(2),
    });
    // THEN
    Template.fromStack(s.stack).hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({ RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 1 } }),
      ],
    });
    expect(route.leaseMs).toBe((300 + 120 + 10 + 30) * 1000);
  });

  it('passes the idempotency TTL to the wrapper, and rejects one shorter than redeliveries', () => {
    const s = tasksStack({ idempotencyTtl: Duration.days(1) });
    s.tasks.addHandler('h', inlineFunction(s, 'Fn'));
    expect(environmentOf(Template.fromStack(s.stack), 'Fn').TICKSET_IDEMPOTENCY_TTL_SECONDS).toBe('86400');
    const short = tasksStack({ idempotencyTtl: Duration.minutes(5) });
    expect(() => short.tasks.addHandler('h', inlineFunction(short, 'Fn'))).toThrow(
      /idempotencyTtl \(300 s\) is shorter than twice the lease of handler 'h' \(220 s\)/,
    );
  });

  it('rejects a bad handler name and says which characters to use', () => {
    const s = tasksStack();
    expect(() => s.tasks.addHandler('send reminder', inlineFunction(s, 'Fn'))).toThrow(
      /Invalid handler name "send reminder": use 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-'/,
    );
    expect(() => s.tasks.addHandler('x'.repeat(65), inlineFunction(s, 'Fn2'))).toThrow(
      /Invalid handler name/,
    );
  });

  it('rejects a second function for the same handler name', () => {
    const s = tasksStack();
    s.tasks.addHandler('h', inlineFunction(s, 'One'));
    expect(() => s.tasks.addHandler('h', inlineFunction(s, 'Two'))).toThrow(/already added/);
  });

  it('rejects a handler outside the VPC and says where to put it', () => {
    const s = tasksStack();
    expect(() => s.tasks.addHandler('h', inlineFunction(s, 'Out', { inVpc: false }))).toThrow(
      /not in a VPC.*vpc: scheduledTasks\.vpc, vpcSubnets: scheduledTasks\.vpcSubnets/,
    );
  });

  it('rejects a function that configures its own async retries, and says what to remove', () => {
    const s = tasksStack();
    const fn = inlineFunction(s, 'Fn');
    fn.configureAsyncInvoke({ retryAttempts: 2 });
    expect(() => s.tasks.addHandler('h', fn)).toThrow(
      /already has an async invoke configuration. Remove retryAttempts/,
    );
  });

  it('rejects event ages, retries and rate limits EventBridge or the tick cannot use', () => {
    const s = tasksStack();
    const fn = inlineFunction(s, 'Fn');
    expect(() => s.tasks.addHandler('a', fn, { maxEventAge: Duration.seconds(30) })).toThrow(
      /maxEventAge is 30 s: use 60 s to 86400 s/,
    );
    expect(() => s.tasks.addHandler('b', fn, { retryAttempts: 200 })).toThrow(/from 0 to 185/);
    expect(() => s.tasks.addHandler('c', fn, { rateLimit: { perSecond: 0 } })).toThrow(/rateLimit.perSecond/);
  });
});

describe('addHandler with batched delivery', () => {
  // GIVEN two handlers, one of them batched
  const s = tasksStack();
  const bulk = inlineFunction(s, 'Bulk', { timeout: Duration.seconds(60) });
  const plain = inlineFunction(s, 'Plain', { timeout: Duration.seconds(60) });
  const batched = s.tasks.addHandler('bulk', bulk, { batch: { maxTasks: 50, concurrency: 4 } });
  const single = s.tasks.addHandler('plain', plain);
  const template = Template.fromStack(s.stack);

  it('sets TICKSET_BATCH on the tick for the batched handler only, with the limits resolved', () => {
    const env = environmentOf(template, 'Tick');
    expect(JSON.parse(env.TICKSET_BATCH as string)).toEqual({ bulk: { maxTasks: 50, maxBytes: 65536 } });
  });

  it('sets the batch concurrency on the batched handler', () => {
    expect(environmentOf(template, 'Bulk').TICKSET_BATCH_CONCURRENCY).toBe('4');
    expect(environmentOf(template, 'Plain').TICKSET_BATCH_CONCURRENCY).toBeUndefined();
  });

  it('keeps the rule pattern (a batch event carries detail.handler and detail.namespace) and the lease', () => {
    expect(batched.leaseMs).toBe(single.leaseMs);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { handler: ['bulk'], namespace: ['tickset'] } }),
    });
  });

  it('rejects limits out of range at synth', () => {
    const t = tasksStack();
    const fn = inlineFunction(t, 'Bad', { timeout: Duration.seconds(60) });
    expect(() => t.tasks.addHandler('bad', fn, { batch: { maxBytes: 300_000 } })).toThrow(/maxBytes/);
    const fn2 = inlineFunction(t, 'Bad2', { timeout: Duration.seconds(60) });
    expect(() => t.tasks.addHandler('bad2', fn2, { batch: { concurrency: 0 } })).toThrow(/concurrency/);
  });
});

describe('a stack without batched handlers', () => {
  const s = tasksStack();
  s.tasks.addHandler('plain', inlineFunction(s, 'Plain', { timeout: Duration.seconds(60) }));
  const template = Template.fromStack(s.stack);
  it('sets no TICKSET_BATCH on the tick', () => {
    expect(environmentOf(template, 'Tick').TICKSET_BATCH).toBeUndefined();
  });
});
