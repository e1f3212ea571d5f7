/**
 * `ScheduledTasks`: tickset on AWS. A cache holds the jobs, a tick Lambda started every minute claims due
 * ones and publishes them to a custom event bus, and one rule per handler delivers them to its Lambda.
 *
 * ```ts
 * const tasks = new ScheduledTasks(this, 'Tasks', { alarmEmail: 'ops@example.com' });
 * const fn = new TicksetFunction(this, 'SendReminder', { entry, vpc: tasks.vpc, vpcSubnets: tasks.vpcSubnets });
 * tasks.addHandler('send-reminder', fn, { rateLimit: { perSecond: 20 } });
 * tasks.grantSchedule(producer);
 * ```
 */
import { Lazy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DEFAULTS, ENV, LAMBDA_ENVIRONMENT_MAX_BYTES, type Precision } from '../src/config/env.js';
import { isValidNamespace } from '../src/core/keys.js';
import { resolveBatchLimits } from '../src/publish/pack.js';
import { TicksetAlarms } from './alarms.js';
import { TicksetCache } from './cache.js';
import { TicksetDashboard } from './dashboard.js';
import {
  type AddHandlerOptions,
  type HandlerBatchOptions,
  type HandlerRateLimit,
  HandlerRoute,
  validateHandlerName,
} from './handler-route.js';
import { METRIC_SERVICES, type MetricEmitter, type TicksetMetricName, TicksetMetrics } from './metrics.js';
import { TicksetNetwork } from './network.js';
import type { ScheduledTasksProps } from './props.js';
import { Tick } from './tick.js';

export class ScheduledTasks extends Construct {
  readonly vpc: ec2.IVpc;
  /** Subnets for tickset Lambdas: put handlers and producers here. */
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly network: TicksetNetwork;
  readonly cache: TicksetCache;
  readonly eventBus: events.EventBus;
  readonly tickFunction: lambda.Function;
  readonly tick: Tick;
  readonly namespace: string;
  readonly precision: Precision;
  readonly eventSource: string;
  readonly eventDetailType: string;
  readonly alarms?: TicksetAlarms;
  readonly dashboard?: TicksetDashboard;
  readonly #metrics: TicksetMetrics;
  readonly #shards: number;
  readonly #routes = new Map<string, HandlerRoute>();
  readonly #rateLimits: Record<string, HandlerRateLimit> = {};
  /** Batched delivery per handler, as the tick reads it (TICKSET_BATCH); set on the tick at the first one. */
  readonly #batch: Record<string, { maxTasks?: number; maxBytes?: number }> = {};
  readonly #connected = new Set<lambda.Function>();
  readonly #idempotencyTtlSeconds?: number;

  constructor(scope: Construct, id: string, props: ScheduledTasksProps = {}) {
    super(scope, id);
    this.namespace = props.namespace ?? DEFAULTS.namespace;
    if (!isValidNamespace(this.namespace)) {
      throw new Error(
        `Invalid namespace ${JSON.stringify(this.namespace)}: use 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' ` +
          "and '-', starting with a letter or digit (e.g. 'tickset')",
      );
    }
    this.#shards = props.shards ?? 1;
    if (!Number.isInteger(this.#shards) || this.#shards < 1 || this.#shards > 1024) {
      throw new Error(
        `shards is ${this.#shards}: use a whole number from 1 to 1024 (1 unless one shard is too hot)`,
      );
    }
    this.precision = props.precision ?? 'second';
    this.eventSource = props.eventSource ?? DEFAULTS.eventSource;
    this.eventDetailType = props.eventDetailType ?? DEFAULTS.eventDetailType;
    if (props.idempotencyTtl) this.#idempotencyTtlSeconds = props.idempotencyTtl.toSeconds();
    const metricsNamespace = props.metricsNamespace ?? DEFAULTS.metricsNamespace;
    this.#metrics = new TicksetMetrics(metricsNamespace, this.namespace);

    const usesSecret = props.cache?.engine !== 'existing' || props.cache.authSecret !== undefined;
    this.network = new TicksetNetwork(this, 'Network', {
      ...(props.vpc ? { vpc: props.vpc } : {}),
      ...(props.natGateways !== undefined ? { natGateways: props.natGateways } : {}),
      ...(props.vpcSubnets ? { vpcSubnets: props.vpcSubnets } : {}),
      ...(props.vpcEndpoints !== undefined ? { vpcEndpoints: props.vpcEndpoints } : {}),
      ...(props.endpoints ? { endpoints: props.endpoints } : {}),
      secretsManagerEndpoint: usesSecret,
    });
    this.vpc = this.network.vpc;
    this.vpcSubnets = this.network.vpcSubnets;
    this.cache = new TicksetCache(this, 'Cache', {
      vpc: this.vpc,
      vpcSubnets: this.vpcSubnets,
      ...(props.cache ? { options: props.cache } : {}),
    });
    this.eventBus = new events.EventBus(this, 'Bus', {
      description: `tickset: task events of namespace '${this.namespace}'`,
    });

    this.tick = new Tick(this, 'Tick', {
      precision: this.precision,
      vpc: this.vpc,
      vpcSubnets: this.vpcSubnets,
      ...(props.tickMemorySize ? { memorySize: props.tickMemorySize } : {}),
      ...(props.tickReservedConcurrency !== undefined
        ? { reservedConcurrency: props.tickReservedConcurrency }
        : {}),
      environment: {
        [ENV.eventBusName]: this.eventBus.eventBusName,
        [ENV.eventSource]: this.eventSource,
        [ENV.eventDetailType]: this.eventDetailType,
        [ENV.precision]: this.precision,
        [ENV.leaseMs]: String(DEFAULTS.leaseMs),
        [ENV.leaseMsByHandler]: Lazy.string({ produce: () => JSON.stringify(this.leases) }),
        [ENV.rateLimits]: Lazy.string({ produce: () => JSON.stringify(this.#rateLimits) }),
      },
    });
    this.tickFunction = this.tick.function;
    this.eventBus.grantPutEventsTo(this.tickFunction);
    this.#connect(this.tickFunction, METRIC_SERVICES.tick, ['events', 'secrets']);

    if (props.alarms !== false) {
      this.alarms = new TicksetAlarms(this, 'Alarms', {
        ...props.alarms,
        metrics: this.#metrics,
        precision: this.precision,
        tick: this.tickFunction,
        cache: this.cache,
        ...(props.alarmTopic ? { topic: props.alarmTopic } : {}),
        ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
      });
    }
    this.node.addValidation({ validate: () => this.#environmentErrors() });

    if (props.dashboard !== false) {
      this.dashboard = new TicksetDashboard(this, 'Dashboard', {
        metrics: this.#metrics,
        tick: this.tickFunction,
        cache: this.cache,
        ...(this.alarms ? { alarms: this.alarms.alarms } : {}),
        ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      });
    }
  }

  /** The registered handler names. */
  get handlers(): string[] {
    return [...this.#routes.keys()];
  }

  /** Lease per handler in ms, as the tick receives it (TICKSET_LEASES). */
  get leases(): Record<string, number> {
    return Object.fromEntries([...this.#routes].map(([name, route]) => [name, route.leaseMs]));
  }

  /** The SNS topic alarms go to (undefined with `alarms: false`). */
  get alarmTopic(): sns.ITopic | undefined {
    return this.alarms?.topic;
  }

  /**
   * Routes tasks for handler `name` to `fn` (which must run in `vpc`, e.g. `vpcSubnets`, and wrap its code in
   * `taskHandler` from `tickset/handler`): a rule, a target with a short event age, retries and a DLQ, the
   * function's async retries off, cache access, the wrapper's environment, and alarms.
   */
  addHandler(name: string, fn: lambda.Function, options: AddHandlerOptions = {}): HandlerRoute {
    validateHandlerName(name);
    if (this.#routes.has(name)) {
      throw new Error(`Handler '${name}' is already added: give each handler one function`);
    }
    this.#requireVpc(fn, `addHandler('${name}')`);
    const route = new HandlerRoute(this, `Handler-${name}`, {
      ...options,
      name,
      handler: fn,
      eventBus: this.eventBus,
      source: this.eventSource,
      detailType: this.eventDetailType,
      namespace: this.namespace,
    });
    this.#routes.set(name, route);
    if (options.rateLimit) this.#rateLimits[name] = { ...options.rateLimit };
    if (options.batch) this.#addBatch(name, fn, options.batch);
    this.#connect(fn, METRIC_SERVICES.handler, ['secrets']);
    this.network.allowExtraEndpointsFrom(fn);
    if (this.#idempotencyTtlSeconds !== undefined) {
      if (this.#idempotencyTtlSeconds * 1000 < 2 * route.leaseMs) {
        throw new Error(
          `idempotencyTtl (${this.#idempotencyTtlSeconds} s) is shorter than twice the lease of handler '${name}' ` +
            `(${route.leaseMs / 1000} s): a redelivery could then run a completed task again. Raise idempotencyTtl.`,
        );
      }
      fn.addEnvironment(ENV.idempotencyTtlSeconds, String(this.#idempotencyTtlSeconds));
    }
    this.alarms?.addHandler(name, fn, route.deadLetterQueue);
    this.dashboard?.addHandler(name, fn, route.deadLetterQueue);
    return route;
  }

  /** Batched delivery for handler `name`: validated at synth, TICKSET_BATCH on the tick, concurrency on `fn`. */
  #addBatch(name: string, fn: lambda.Function, batch: HandlerBatchOptions): void {
    const { maxTasks, maxBytes } = resolveBatchLimits(`addHandler('${name}').batch`, batch);
    if (batch.concurrency !== undefined) {
      if (!Number.isInteger(batch.concurrency) || batch.concurrency < 1)
        throw new Error(
          `addHandler('${name}').batch.concurrency is ${batch.concurrency}: use an integer >= 1`,
        );
      fn.addEnvironment(ENV.batchConcurrency, String(batch.concurrency));
    }
    if (Object.keys(this.#batch).length === 0) {
      this.tickFunction.addEnvironment(
        ENV.batchDelivery,
        Lazy.string({ produce: () => JSON.stringify(this.#batch) }),
      );
    }
    this.#batch[name] = { maxTasks, maxBytes };
  }

  /**
   * Lets `fn` schedule jobs with `await Scheduler.fromEnv()`: the cache port, the connection environment,
   * the known handler names, and read access to the cache secret. `fn` must run in `vpc`.
   */
  grantSchedule(fn: lambda.Function): iam.Grant {
    this.#requireVpc(fn, 'grantSchedule()');
    this.network.allowExtraEndpointsFrom(fn);
    return this.#connect(fn, undefined, ['secrets']);
  }

  /**
   * Lambda rejects a function whose environment (keys and values) exceeds 4 KB, at deploy time. The tick's
   * TICKSET_LEASES and TICKSET_RATE_LIMITS and everyone's TICKSET_HANDLERS grow with each handler, so synth
   * checks every function tickset configures. A value that is a CloudFormation reference (bus name, secret
   * ARN, cache endpoint) is counted as ESTIMATED_REFERENCE_BYTES.
   */
  #environmentErrors(): string[] {
    const errors: string[] = [];
    for (const fn of this.#connected) {
      const sizes = environmentSizes(fn);
      const total = sizes.reduce((sum, [, bytes]) => sum + bytes, 0);
      if (total <= LAMBDA_ENVIRONMENT_MAX_BYTES) continue;
      const largest = [...sizes]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([name, bytes]) => `${name} ${bytes} B`)
        .join(', ');
      errors.push(
        `The environment of ${fn.node.path} is about ${total} bytes, over Lambda's limit of ` +
          `${LAMBDA_ENVIRONMENT_MAX_BYTES} bytes (keys and values), so the deploy would fail. Largest: ${largest}. ` +
          `It grows with each handler (${this.#routes.size} now): use shorter handler names, or split the handlers ` +
          'over several ScheduledTasks (namespaces).',
      );
    }
    return errors;
  }

  #requireVpc(fn: lambda.Function, what: string): void {
    if (!fn.isBoundToVpc) {
      throw new Error(
        `${what}: function ${fn.node.path} is not in a VPC, so it cannot reach the cache. Place it in ` +
          "the tickset VPC's private subnets: { vpc: scheduledTasks.vpc, vpcSubnets: scheduledTasks.vpcSubnets }.",
      );
    }
  }

  /**
   * Cache access and the environment for `fn`. `serviceName` is given for the functions that emit metrics
   * (tick, handlers): they also get the metrics namespace and their Powertools service name.
   */
  #connect(
    fn: lambda.Function,
    serviceName: string | undefined,
    apis: readonly ('events' | 'secrets')[],
  ): iam.Grant {
    const first = !this.#connected.has(fn);
    if (first) {
      this.#connected.add(fn);
      this.cache.grantConnect(fn, `tickset: ${fn.node.path}`);
      if (this.cache.authSecret) this.network.allowAwsApisFrom(fn, apis);
      else if (apis.includes('events')) this.network.allowAwsApisFrom(fn, ['events']);
      const environment: Record<string, string> = {
        ...this.cache.environment(),
        [ENV.namespace]: this.namespace,
        [ENV.shards]: String(this.#shards),
        [ENV.handlers]: Lazy.string({ produce: () => this.handlers.join(',') }),
      };
      for (const [key, value] of Object.entries(environment)) fn.addEnvironment(key, value);
    }
    if (serviceName) {
      fn.addEnvironment(ENV.metricsNamespace, this.#metrics.metricsNamespace);
      fn.addEnvironment(ENV.serviceName, serviceName);
    }
    const secret = this.cache.authSecret;
    if (!secret) return iam.Grant.drop(fn, 'no cache secret');
    if (!first) return iam.Grant.drop(fn, 'cache secret already granted');
    // Exactly what Scheduler.fromEnv() calls (src/redis/connection.ts): no DescribeSecret.
    const grant = iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
    });
    secret.encryptionKey?.grantDecrypt(fn);
    return grant;
  }

  /** One tickset metric from one emitter (see infra/metrics.ts for the dimension contract). */
  metric(
    metricName: TicksetMetricName,
    emitter: MetricEmitter,
    props?: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    return this.#metrics.metric(metricName, emitter, props);
  }
  /** Tasks published to the bus (tick). */
  metricDispatched(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.dispatched(props);
  }
  /** Tasks a handler completed. */
  metricSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.succeeded(props);
  }
  /** Failed attempts (each failure, retried or not). */
  metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.failed(props);
  }
  /** Failed attempts scheduled for a retry. */
  metricRetried(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.retried(props);
  }
  /** Tasks moved to the dead set, by the tick and the handlers together. */
  metricDeadLettered(props?: cloudwatch.MathExpressionOptions): cloudwatch.IMetric {
    return this.#metrics.deadLettered(props);
  }
  /** Tasks whose `expiresAt` passed before they ran. */
  metricExpired(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.expired(props);
  }
  /** PutEvents entries that failed (they are retried). */
  metricPublishFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.publishFailures(props);
  }
  /** Due -> published, p99 (`emitter: 'handler'` for due -> handler start). */
  metricLag(props?: cloudwatch.MetricOptions, emitter: MetricEmitter = 'tick'): cloudwatch.Metric {
    return this.#metrics.lag(emitter, props);
  }
  /** Age of the oldest due, unclaimed task, maximum. */
  metricOldestDueAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.oldestDueAge(props);
  }
  /** Tick heartbeats (the leader emits about one per second in `second` mode, one per pass in `minute`). */
  metricTickHeartbeat(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.tickHeartbeat(props);
  }
}

/** The size counted for an environment value that is a CloudFormation reference (an ARN is about 90-110). */
export const ESTIMATED_REFERENCE_BYTES = 128;

function estimatedBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).length;
  if (value && typeof value === 'object') {
    const join = (value as Record<string, unknown>)['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) {
      const parts = join[1] as unknown[];
      return (
        parts.reduce<number>((sum, part) => sum + estimatedBytes(part), 0) +
        Math.max(0, parts.length - 1) * estimatedBytes(join[0])
      );
    }
  }
  return ESTIMATED_REFERENCE_BYTES;
}

/** Each environment variable of `fn` with its (estimated) size in bytes, key included. */
export function environmentSizes(fn: lambda.Function): [string, number][] {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const resolved = Stack.of(fn).resolve(cfn.environment) as
    | { variables?: Record<string, unknown>; Variables?: Record<string, unknown> }
    | undefined;
  const variables = resolved?.variables ?? resolved?.Variables ?? {};
  return Object.entries(variables).map(([name, value]) => [
    name,
    Buffer.byteLength(name, 'utf8') + estimatedBytes(value),
  ]);
}
