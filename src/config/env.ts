/**
 * Every environment variable tickset reads. The README's configuration table lists the same names.
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
  /** Idempotency record lifetime in seconds for the handler wrapper. */
  idempotencyTtlSeconds: 'TICKSET_IDEMPOTENCY_TTL_SECONDS',
  /** `true` to include payloads in handler logs (off by default). */
  logPayloads: 'TICKSET_LOG_PAYLOADS',
  /** CloudWatch metrics namespace (default `Tickset`). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

export const DEFAULTS = {
  namespace: 'tickset',
  eventSource: 'tickset',
  eventDetailType: 'tickset.task',
  metricsNamespace: 'Tickset',
  leaseMs: 60_000,
} as const;

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
  /** A delivery not backed by its task's live claim: acknowledged without running (start fencing). */
  staleStartRejected: 'StaleStartRejected',
  /** Recurring series that completed (last occurrence claimed, or expiresAt passed): not dead, no alarm. */
  seriesEnded: 'SeriesEnded',
} as const;
