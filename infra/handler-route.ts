/**
 * `HandlerRoute`: delivery from the tickset bus to one handler Lambda, wired so the claim lease stays true.
 *
 *   tick publishes ─▶ rule (detail.handler = name) ─▶ target: maxEventAge + retries, DLQ (SQS, encrypted)
 *                                                      └▶ Lambda async queue: retryAttempts 0, maxEventAge
 *                                                          └▶ function runs for at most its timeout
 *
 * The lease (how long a claimed task may stay unacknowledged before the tick hands it out again) covers the
 * worst case of that chain: target maxEventAge + async maxEventAge + function timeout + margin. A shorter
 * lease would let the tick redeliver a task whose first delivery is still on its way.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { isValidHandlerName } from '../src/core/keys.js';

/** Rate limits the tick applies when claiming a handler's tasks. */
export interface HandlerRateLimit {
  /** Tasks started per second, at most. @default - no limit */
  readonly perSecond?: number;
  /** Tasks in flight (claimed, not yet acknowledged), at most. @default - no limit */
  readonly maxInFlight?: number;
}

/** Batched delivery of one handler (see `AddHandlerOptions.batch`). */
export interface HandlerBatchOptions {
  /** Most tasks in one event. @default 100 */
  readonly maxTasks?: number;
  /** Most bytes of one PutEvents entry (EventBridge bills each started 64 KB as one event). @default 65536 */
  readonly maxBytes?: number;
  /** Tasks of one batch running at once in the handler. @default 8 */
  readonly concurrency?: number;
}

export interface AddHandlerOptions {
  /** Claim-rate limits for this handler (TICKSET_RATE_LIMITS). @default - none */
  readonly rateLimit?: HandlerRateLimit;
  /** How long EventBridge keeps trying to deliver an event to the function (60 s to 24 h). @default Duration.minutes(2) */
  readonly maxEventAge?: Duration;
  /** EventBridge delivery retries (0 to 185). @default 3 */
  readonly retryAttempts?: number;
  /** How long the event may wait in the function's async queue (60 s to 6 h). @default Duration.seconds(60) */
  readonly asyncMaxEventAge?: Duration;
  /** Added to the lease on top of the delivery ages and the function timeout. @default Duration.seconds(30) */
  readonly leaseMargin?: Duration;
  /**
   * Batched delivery: the tick packs this handler's claimed tasks of one shard into one event (up to
   * `maxTasks` tasks and `maxBytes` bytes; TICKSET_BATCH), and the wrapper runs them inside one invocation,
   * `concurrency` at a time (TICKSET_BATCH_CONCURRENCY), each acked or failed on its own. The lease is the
   * same as without batching: the wrapper starts no task it has no time for before the function's timeout
   * and releases it instead (src/handler/batch.ts), so a batch never outlives the invocation. Deploy the
   * handler before (or with) the tick that sends it batches (docs/DEPLOY.md, "Upgrading").
   * @default - one event per task
   */
  readonly batch?: HandlerBatchOptions;
  /** Where EventBridge puts events it could not deliver. @default - a new SQS queue, SSE, TLS only, 14 days */
  readonly deadLetterQueue?: sqs.IQueue;
}

export interface HandlerRouteProps extends AddHandlerOptions {
  readonly name: string;
  readonly handler: lambda.Function;
  readonly eventBus: events.IEventBus;
  readonly source: string;
  readonly detailType: string;
  readonly namespace: string;
}

/** Throws unless the runtime accepts `name` as a handler name (src/core/keys.ts). */
export function validateHandlerName(name: string): void {
  if (!isValidHandlerName(name)) {
    throw new Error(
      `Invalid handler name ${JSON.stringify(name)}: use 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-', ` +
        "starting with a letter or digit (e.g. 'send-reminder')",
    );
  }
}

function seconds(what: string, value: Duration, min: number, max: number): number {
  const s = value.toSeconds();
  if (s < min || s > max) throw new Error(`${what} is ${s} s: use ${min} s to ${max} s`);
  return s;
}

export class HandlerRoute extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.IQueue;
  /** The lease the tick uses for this handler, in ms. */
  readonly leaseMs: number;

  constructor(scope: Construct, id: string, props: HandlerRouteProps) {
    super(scope, id);
    validateHandlerName(props.name);
    const maxEventAge = props.maxEventAge ?? Duration.minutes(2);
    const asyncMaxEventAge = props.asyncMaxEventAge ?? Duration.seconds(60);
    const retryAttempts = props.retryAttempts ?? 3;
    const targetAge = seconds('maxEventAge', maxEventAge, 60, 86_400);
    const asyncAge = seconds('asyncMaxEventAge', asyncMaxEventAge, 60, 21_600);
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 185) {
      throw new Error(`retryAttempts is ${retryAttempts}: use a whole number from 0 to 185`);
    }
    for (const [key, value] of Object.entries(props.rateLimit ?? {})) {
      if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
        throw new Error(
          `rateLimit.${key} of handler '${props.name}' is ${value}: use a number > 0, or leave it out`,
        );
      }
    }
    const timeout = props.handler.timeout ?? Duration.seconds(3);
    if (timeout.isUnresolved()) {
      throw new Error(
        `The timeout of handler '${props.name}' is a token: give the function a literal Duration`,
      );
    }
    const margin = props.leaseMargin ?? Duration.seconds(30);
    this.leaseMs = (targetAge + asyncAge + timeout.toSeconds() + margin.toSeconds()) * 1000;

    if (props.deadLetterQueue) {
      this.deadLetterQueue = props.deadLetterQueue;
    } else {
      const dlq = new sqs.Queue(this, 'DeadLetterQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(dlq).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is the dead-letter queue of the EventBridge target; its messages are only for ' +
          'inspection (docs/OPERATIONS.md), so it needs no dead-letter queue of its own.',
      });
      this.deadLetterQueue = dlq;
    }
    // EventBridge invokes asynchronously: Lambda's own retries would run a task outside tickset's lease.
    try {
      props.handler.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: asyncMaxEventAge });
    } catch (error) {
      throw new Error(
        `Handler '${props.name}': ${props.handler.node.path} already has an async invoke configuration. Remove ` +
          'retryAttempts, maxEventAge, onSuccess and onFailure from its props: tickset sets retryAttempts 0 and ' +
          'maxEventAge (the asyncMaxEventAge option) so that the lease stays true.',
        { cause: error },
      );
    }
    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.eventBus,
      description: `tickset: tasks for handler '${props.name}'`,
      eventPattern: {
        source: [props.source],
        detailType: [props.detailType],
        detail: { handler: [props.name], namespace: [props.namespace] },
      },
      targets: [
        new targets.LambdaFunction(props.handler, {
          maxEventAge,
          retryAttempts,
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
  }
}
