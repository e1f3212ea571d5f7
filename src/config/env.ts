/**
 * The runtime/infra contract: every environment variable tickset reads, the tunables the construct may set,
 * the precision type, and every metric (tickset's own, with namespace, dimensions, unit and emitter; and the
 * AWS metrics the alarms read). Both the runtime (src/) and the CDK construct (infra/) import names from here;
 * test/aws/contract.test.ts checks that what the construct sets and reads matches what the code reads and
 * emits. The README's configuration table lists the same names.
 */

/** Tick precision. `second`: a loop publishing within about a second; `minute`: one pass per minute. */
export type Precision = 'second' | 'minute';
export const PRECISIONS: readonly Precision[] = ['second', 'minute'];

/**
 * Every environment variable tickset reads.
 */
export const ENV = {
  /** Redis URL: `redis://` or `rediss://` (TLS), optionally with `user:password@`. */
  redisUrl: 'TICKSET_REDIS_URL',
  /** Fallback for the CLI and the demo only. */
  redisUrlFallback: 'REDIS_URL',
  /** `true` to connect as a Redis Cluster client (ElastiCache Serverless, cluster-mode groups, MemoryDB). */
  redisCluster: 'TICKSET_REDIS_CLUSTER',
  /** `true` to force TLS even for a `redis://` URL. */
  redisTls: 'TICKSET_REDIS_TLS',
  /** RBAC user name (ElastiCache user / MemoryDB ACL user). */
  redisUsername: 'TICKSET_REDIS_USERNAME',
  /** Secrets Manager secret ARN or name holding the password / auth token (plain string or JSON `{"password"}`). */
  redisAuthSecretArn: 'TICKSET_REDIS_AUTH_SECRET_ARN',
  /** `true` to authenticate with IAM tokens instead of a password (needs TLS and the RBAC user; src/redis/iam-auth.ts). */
  redisIamAuth: 'TICKSET_REDIS_IAM_AUTH',
  /** IAM auth: replication group id, serverless cache name or MemoryDB cluster name (not the endpoint). */
  redisIamCacheName: 'TICKSET_REDIS_IAM_CACHE_NAME',
  /** IAM auth: `true` for an ElastiCache Serverless cache. */
  redisIamServerless: 'TICKSET_REDIS_IAM_SERVERLESS',
  /** IAM auth: `elasticache` (default) or `memorydb`. The region is AWS_REGION. */
  redisIamService: 'TICKSET_REDIS_IAM_SERVICE',
  /** Namespace (hash-tag prefix of every key). */
  namespace: 'TICKSET_NAMESPACE',
  /** Number of shards (hash tags) jobs are spread over. */
  shards: 'TICKSET_SHARDS',
  /** Comma-separated known handler names: producers reject others. */
  handlers: 'TICKSET_HANDLERS',
  /** Producers park one-off jobs due at least this many ms ahead (default 600000; `Infinity` never parks). */
  parkAfterMs: 'TICKSET_PARK_AFTER_MS',
  /** Event bus name the tick publishes to. */
  eventBusName: 'TICKSET_EVENT_BUS_NAME',
  /** Event `source` (default `tickset`). */
  eventSource: 'TICKSET_EVENT_SOURCE',
  /** Event `detail-type` (default `tickset.task`). */
  eventDetailType: 'TICKSET_EVENT_DETAIL_TYPE',
  /** Tick precision: `second` (default) or `minute`. */
  precision: 'TICKSET_PRECISION',
  /** Lease per handler, JSON `{"handler": ms}`; `TICKSET_LEASE_MS` is the default for others. */
  leaseMsByHandler: 'TICKSET_LEASES',
  leaseMs: 'TICKSET_LEASE_MS',
  /** Rate limits, JSON `{"handler": {"perSecond": 5, "maxInFlight": 20}}`. */
  rateLimits: 'TICKSET_RATE_LIMITS',
  /**
   * Batched delivery (tick), JSON `{"handler": {"maxTasks": 100, "maxBytes": 65536}}`: the tick packs
   * claimed tasks of one handler and one shard into one event. Handlers not named get one event per task.
   */
  batchDelivery: 'TICKSET_BATCH',
  /** Tasks of one batch event the handler wrapper runs at once (default 8). */
  batchConcurrency: 'TICKSET_BATCH_CONCURRENCY',
  /** Idempotency record lifetime in seconds for the handler wrapper. */
  idempotencyTtlSeconds: 'TICKSET_IDEMPOTENCY_TTL_SECONDS',
  /** `true` to include payloads in handler logs (off by default). */
  logPayloads: 'TICKSET_LOG_PAYLOADS',
  /** CloudWatch metrics namespace (default `Tickset`). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /** Powertools service name (logs, metrics `service` dimension unless the code names the service). */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Powertools log level (default `INFO`). */
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  /** CLI only: `1` prints stack traces. */
  debug: 'TICKSET_DEBUG',
  /** Read by Node.js itself: the construct sets `--enable-source-maps`. */
  nodeOptions: 'NODE_OPTIONS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

export const DEFAULTS = {
  namespace: 'tickset',
  eventSource: 'tickset',
  eventDetailType: 'tickset.task',
  metricsNamespace: 'Tickset',
  leaseMs: 60_000,
  /** Handler wrapper's idempotency record lifetime (TICKSET_IDEMPOTENCY_TTL_SECONDS): 7 days. */
  idempotencyTtlSeconds: 604_800,
  precision: 'second' as Precision,
  /** Most tasks in one batch event. */
  batchMaxTasks: 100,
  /** Most bytes of one batch entry: EventBridge bills each started 64 KB of an entry as one event. */
  batchMaxBytes: 64 * 1024,
  /** Tasks of one batch event run at once. */
  batchConcurrency: 8,
  /** Time a batch keeps back from Lambda's deadline for its acks and releases. */
  batchMarginMs: 1_000,
} as const;

/**
 * The tunables the construct may set, with the environment variable that carries each (and its default).
 * Everything else in ENV is either connection data or read only outside Lambda (CLI, demo).
 */
export const TUNABLES = {
  namespace: { env: ENV.namespace, default: DEFAULTS.namespace },
  shards: { env: ENV.shards, default: 1 },
  precision: { env: ENV.precision, default: DEFAULTS.precision },
  eventSource: { env: ENV.eventSource, default: DEFAULTS.eventSource },
  eventDetailType: { env: ENV.eventDetailType, default: DEFAULTS.eventDetailType },
  metricsNamespace: { env: ENV.metricsNamespace, default: DEFAULTS.metricsNamespace },
  leaseMs: { env: ENV.leaseMs, default: DEFAULTS.leaseMs },
  leaseMsByHandler: { env: ENV.leaseMsByHandler, default: {} },
  rateLimits: { env: ENV.rateLimits, default: {} },
  idempotencyTtlSeconds: { env: ENV.idempotencyTtlSeconds, default: DEFAULTS.idempotencyTtlSeconds },
} as const;

/** The Powertools service name of each tickset component (logs, and the `service` metric dimension). */
export const SERVICES = {
  tick: 'tickset-tick',
  handler: 'tickset-handler',
} as const;

/**
 * Lambda's limit on a function's environment: keys and values together, at most 4 KB
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html). The construct fails synth above it.
 */
export const LAMBDA_ENVIRONMENT_MAX_BYTES = 4096;

/** Metric names emitted through Powertools Metrics (EMF). The CDK alarms and dashboard use the same. */
export const METRICS = {
  dispatched: 'TasksDispatched',
  succeeded: 'TasksSucceeded',
  failed: 'TasksFailed',
  retried: 'TasksRetried',
  deadLettered: 'TasksDeadLettered',
  expired: 'TasksExpired',
  publishFailures: 'PublishFailures',
  /** Due → published by the tick. */
  lagMs: 'TaskLagMs',
  /** Due → handler start, first attempts only. */
  handlerStartLagMs: 'HandlerStartLagMs',
  oldestDueAgeMs: 'OldestDueAgeMs',
  tickHeartbeat: 'TickHeartbeat',
  lateAckRejected: 'LateAckRejected',
  /** Tasks of a batch event released unstarted because the invocation's time ran out (handler). */
  batchReleased: 'BatchTasksReleased',
  /** A delivery not backed by its task's live claim: acknowledged without running (start fencing). */
  staleStartRejected: 'StaleStartRejected',
  /** Recurring series that completed (last occurrence claimed, or expiresAt passed): not dead, no alarm. */
  seriesEnded: 'SeriesEnded',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** The component that emits a metric; its `service` dimension is SERVICES[emitter]. */
export type MetricEmitter = 'tick' | 'handler';

/**
 * tickset's metrics in CloudWatch namespace DEFAULTS.metricsNamespace (overridable with
 * POWERTOOLS_METRICS_NAMESPACE): every datapoint has exactly the dimensions METRIC_DIMENSIONS, `service` =
 * SERVICES[emitter] and `Namespace` = the tickset namespace.
 */
export const METRIC_DIMENSIONS = ['service', 'Namespace'] as const;

export const METRIC_CATALOG: Record<
  MetricName,
  { readonly unit: 'Count' | 'Milliseconds'; readonly emitters: readonly MetricEmitter[] }
> = {
  [METRICS.dispatched]: { unit: 'Count', emitters: ['tick'] },
  [METRICS.succeeded]: { unit: 'Count', emitters: ['handler'] },
  [METRICS.failed]: { unit: 'Count', emitters: ['handler'] },
  [METRICS.retried]: { unit: 'Count', emitters: ['handler'] },
  [METRICS.deadLettered]: { unit: 'Count', emitters: ['tick', 'handler'] },
  [METRICS.expired]: { unit: 'Count', emitters: ['tick'] },
  [METRICS.publishFailures]: { unit: 'Count', emitters: ['tick'] },
  [METRICS.lagMs]: { unit: 'Milliseconds', emitters: ['tick'] },
  [METRICS.handlerStartLagMs]: { unit: 'Milliseconds', emitters: ['handler'] },
  [METRICS.oldestDueAgeMs]: { unit: 'Milliseconds', emitters: ['tick'] },
  [METRICS.tickHeartbeat]: { unit: 'Count', emitters: ['tick'] },
  [METRICS.lateAckRejected]: { unit: 'Count', emitters: ['handler'] },
  [METRICS.batchReleased]: { unit: 'Count', emitters: ['handler'] },
  [METRICS.staleStartRejected]: { unit: 'Count', emitters: ['handler'] },
  [METRICS.seriesEnded]: { unit: 'Count', emitters: ['tick'] },
};

/** An AWS service metric an alarm or the dashboard reads, and the documentation page that defines it. */
export interface AwsMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: readonly string[];
  readonly doc: string;
}

const LAMBDA_METRICS_DOC = 'https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html';
const ELASTICACHE_HOST_DOC =
  'https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html';
const ELASTICACHE_SERVERLESS_DOC =
  'https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/serverless-metrics-events-redis.html';
const MEMORYDB_DOC = 'https://docs.aws.amazon.com/memorydb/latest/devguide/metrics.memorydb.html';

/** The one list of AWS metrics tickset's alarms and dashboard use (documentation pages as of 2026). */
export const AWS_METRICS = {
  lambdaErrors: {
    namespace: 'AWS/Lambda',
    metricName: 'Errors',
    dimensions: ['FunctionName'],
    doc: LAMBDA_METRICS_DOC,
  },
  lambdaThrottles: {
    namespace: 'AWS/Lambda',
    metricName: 'Throttles',
    dimensions: ['FunctionName'],
    doc: LAMBDA_METRICS_DOC,
  },
  lambdaInvocations: {
    namespace: 'AWS/Lambda',
    metricName: 'Invocations',
    dimensions: ['FunctionName'],
    doc: LAMBDA_METRICS_DOC,
  },
  lambdaDuration: {
    namespace: 'AWS/Lambda',
    metricName: 'Duration',
    dimensions: ['FunctionName'],
    doc: LAMBDA_METRICS_DOC,
  },
  /** Events Lambda accepted for asynchronous invocation and dropped without running them. */
  lambdaAsyncEventsDropped: {
    namespace: 'AWS/Lambda',
    metricName: 'AsyncEventsDropped',
    dimensions: ['FunctionName'],
    doc: LAMBDA_METRICS_DOC,
  },
  sqsMessagesVisible: {
    namespace: 'AWS/SQS',
    metricName: 'ApproximateNumberOfMessagesVisible',
    dimensions: ['QueueName'],
    doc: 'https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html',
  },
  elastiCacheNodeMemory: {
    namespace: 'AWS/ElastiCache',
    metricName: 'DatabaseMemoryUsagePercentage',
    dimensions: ['CacheClusterId'],
    doc: ELASTICACHE_HOST_DOC,
  },
  elastiCacheEvictions: {
    namespace: 'AWS/ElastiCache',
    metricName: 'Evictions',
    dimensions: ['CacheClusterId'],
    doc: ELASTICACHE_HOST_DOC,
  },
  elastiCacheServerlessBytes: {
    namespace: 'AWS/ElastiCache',
    metricName: 'BytesUsedForCache',
    dimensions: ['clusterId'],
    doc: ELASTICACHE_SERVERLESS_DOC,
  },
  elastiCacheServerlessEvictions: {
    namespace: 'AWS/ElastiCache',
    metricName: 'Evictions',
    dimensions: ['clusterId'],
    doc: ELASTICACHE_SERVERLESS_DOC,
  },
  memoryDbMemory: {
    namespace: 'AWS/MemoryDB',
    metricName: 'DatabaseMemoryUsagePercentage',
    dimensions: ['ClusterName'],
    doc: MEMORYDB_DOC,
  },
  memoryDbEvictions: {
    namespace: 'AWS/MemoryDB',
    metricName: 'Evictions',
    dimensions: ['ClusterName'],
    doc: MEMORYDB_DOC,
  },
} as const satisfies Record<string, AwsMetric>;
