/**
 * `startLocal`: the whole of tickset in one process against a real Redis. The same tick loop, claim,
 * wrapper, idempotency, ack and fail as on AWS; only the transport differs (in-process, not EventBridge).
 */
import type { HandlerLimits } from '../core/engine.js';
import { Engine } from '../core/engine.js';
import type { BatchDeliveryLimits, TaskEventDetail } from '../core/types.js';
import { ValidationError } from '../errors.js';
import { type Task, type TaskOutcome, taskHandler } from '../handler/task-handler.js';
import { silentLogger, type TicksetLogger } from '../observability/logger.js';
import { InMemoryMetrics } from '../observability/metrics.js';
import { connect, duplicateConnection, type RedisClient } from '../redis/connection.js';
import { TickLoop } from '../tick/loop.js';
import { LocalPublisher, type WrappedHandler } from './local-publisher.js';
import { gateStarts } from './start-gate.js';

export interface LocalOptions {
  /** A `redis://` URL or an ioredis client (not closed by `stop()` when passed in). */
  readonly redis: string | RedisClient;
  /** @default 'tickset' */
  readonly namespace?: string;
  /** Must match the producers'. @default 1 */
  readonly shards?: number;
  /** Handler functions by name. Tasks for other names are dead-lettered (`unknown-handler`). */
  readonly handlers: Readonly<Record<string, (task: Task) => Promise<unknown> | unknown>>;
  /** How long a claimed task may stay unacknowledged before it is handed out again. @default 30000 */
  readonly leaseMs?: number;
  /** Handlers running at once. @default 32 */
  readonly concurrency?: number;
  /** Per-handler limits, the same shape the tick takes on AWS. @default - none */
  readonly rateLimits?: Readonly<Record<string, HandlerLimits>>;
  /** A handler running longer counts as failed (reason `timeout`); its late ack is rejected. @default leaseMs */
  readonly handlerTimeoutMs?: number;
  /** Idempotency record lifetime. @default 604800 */
  readonly idempotencyTtlSeconds?: number;
  /** Called with every task outcome. */
  readonly onOutcome?: (
    task: TaskEventDetail,
    outcome: TaskOutcome<unknown> | { status: 'error'; error: unknown },
  ) => void;
  /** @default - silent */
  readonly logger?: TicksetLogger;
  /** Most tasks per claim call. @default 1000 */
  readonly batchSize?: number;
  /** Leader lease (only one local runtime per namespace loops at a time). @default 5000 */
  readonly leaderLeaseMs?: number;
  /**
   * Redis connections the handler wrapper spreads running tasks over, besides the tick's. With two, one
   * connection's round trip (a batch of "in progress" or "completed + ack" records) overlaps Node's work
   * on the other's reply, so Redis and Node work at the same time: about 1.4x the throughput of one on a
   * two-core machine (BENCHMARKS.md). A passed-in client is duplicated for them.
   * @default 2
   */
  readonly handlerConnections?: number;
  /**
   * Batched delivery per handler, as `TICKSET_BATCH` sets it for the tick on AWS: queued tasks of one
   * handler and one shard reach the wrapper as one batch event (up to `maxTasks`; `maxBytes` is for
   * EventBridge entries and does not apply in-process). `concurrency`: tasks of one batch running at
   * once (the wrapper's `batch.concurrency`).
   * @default - none: one event per task
   */
  readonly batch?: Readonly<Record<string, BatchDeliveryLimits & { readonly concurrency?: number }>>;
}

export interface LocalRuntime {
  readonly engine: Engine;
  readonly metrics: InMemoryMetrics;
  readonly loop: TickLoop;
  /** Stops the tick, hands queued tasks back, waits for running handlers, closes what it opened. */
  stop(): Promise<void>;
}

/** A handler with a `perSecond` limit starts through the start gate (shared by the runtime's connections). */
function gatedHandler(
  fn: (task: Task) => Promise<unknown> | unknown,
  limits: HandlerLimits | undefined,
): (task: Task) => Promise<unknown> | unknown {
  return limits?.perSecond === undefined ? fn : gateStarts(fn, limits.perSecond);
}

export function startLocal(options: LocalOptions): LocalRuntime {
  const connections = options.handlerConnections ?? 2;
  if (!Number.isInteger(connections) || connections < 1) {
    throw new ValidationError('handlerConnections', connections, 'an integer of at least 1');
  }
  const redis = typeof options.redis === 'string' ? connect(options.redis) : options.redis;
  const engineOptions = {
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(options.shards !== undefined ? { shards: options.shards } : {}),
  };
  const engine = new Engine(redis, engineOptions);
  const leaseMs = options.leaseMs ?? 30_000;
  const metrics = new InMemoryMetrics();
  const logger = options.logger ?? silentLogger;
  // One engine per handler connection: each has its own batches of records and acks (executions.ts).
  const laneClients = Array.from({ length: connections }, () =>
    typeof options.redis === 'string' ? connect(options.redis) : duplicateConnection(options.redis),
  );
  // One start gate per rate-limited handler, shared by every connection.
  const gated = Object.entries(options.handlers).map(
    ([name, fn]) => [name, gatedHandler(fn, options.rateLimits?.[name])] as const,
  );
  const lanes = laneClients.map((client) => {
    const laneEngine = new Engine(client, engineOptions);
    const wrapped = new Map<string, WrappedHandler>();
    for (const [name, fn] of gated) {
      wrapped.set(
        name,
        taskHandler(fn, {
          engine: laneEngine,
          handler: name,
          timeoutMs: options.handlerTimeoutMs ?? leaseMs,
          ...(options.idempotencyTtlSeconds !== undefined
            ? { idempotencyTtlSeconds: options.idempotencyTtlSeconds }
            : {}),
          logger,
          metrics,
          ...(options.batch?.[name]
            ? { batch: { concurrency: options.batch[name].concurrency ?? options.concurrency ?? 32 } }
            : {}),
        }) as WrappedHandler,
      );
    }
    return wrapped;
  });
  let loop: TickLoop | undefined;
  const publisher = new LocalPublisher({
    handlers: lanes,
    concurrency: options.concurrency ?? 32,
    engine,
    ...(options.batch ? { batch: batchLimits(options.batch) } : {}),
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
    onCapacity: () => loop?.wake(),
  });
  loop = new TickLoop({
    engine,
    publisher,
    leaseMs,
    knownHandlers: new Set(Object.keys(options.handlers)),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    leaderLeaseMs: options.leaderLeaseMs ?? 5000,
    metrics,
    logger,
  });
  const running = loop.run(Number.POSITIVE_INFINITY);
  let stopping: Promise<void> | undefined;
  return {
    engine,
    metrics,
    loop,
    stop() {
      stopping ??= (async () => {
        loop.stop();
        await running;
        await publisher.close();
        await Promise.all(laneClients.map((client) => client.quit().catch(() => undefined)));
        if (typeof options.redis === 'string') await redis.quit().catch(() => undefined);
      })();
      return stopping;
    },
  };
}

/** The publisher's limits: `maxTasks` only (in-process, no entry bytes). */
function batchLimits(
  batch: NonNullable<LocalOptions['batch']>,
): Readonly<Record<string, BatchDeliveryLimits>> {
  return Object.fromEntries(
    Object.entries(batch).map(([name, b]) => [
      name,
      b.maxTasks !== undefined ? { maxTasks: b.maxTasks } : {},
    ]),
  );
}
