/**
 * `taskHandler(fn)`: the wrapper every handler Lambda (and the local runtime) runs a task through.
 *
 *   validate event → dedupe on idempotencyKey (Powertools idempotency, Redis) → fn(task) → ack | fail
 *
 * Ack and fail carry the claim token, so a late ack from an expired lease is rejected. After a failure is
 * recorded the wrapper returns normally: tickset owns retries (Lambda's own are off) and emits a metric.
 *
 * The one window the wrapper cannot close: a crash after `fn`'s side effect and before the idempotency
 * record is saved lets a redelivery run `fn` again. Write effects keyed by `task.idempotencyKey` (or in
 * the same transaction as your own record) to make them exactly-once.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { Context } from 'aws-lambda';
import { Scheduler } from '../client/scheduler.js';
import { ENV, METRICS } from '../config/env.js';
import type { Engine } from '../core/engine.js';
import type { JsonValue, TaskEventDetail } from '../core/types.js';
import { MalformedEventError, TicksetError } from '../errors.js';
import { createLogger, type TicksetLogger } from '../observability/logger.js';
import { type MetricsSink, PowertoolsMetricsSink } from '../observability/metrics.js';
import { parseTaskEvent } from './event.js';
import { ioredisCacheClient } from './idempotency.js';

/** What a handler function receives. */
export interface Task<P = JsonValue> {
  readonly id: string;
  readonly handler: string;
  readonly payload: P;
  /** 1 on the first delivery of this occurrence. */
  readonly attempt: number;
  /** Same on every delivery of this occurrence: key your side effects by it. */
  readonly idempotencyKey: string;
  readonly scheduledFor: Date;
}

export type TaskOutcome<R> =
  | { readonly status: 'succeeded'; readonly result: R }
  | { readonly status: 'duplicate'; readonly result: R }
  | { readonly status: 'in-progress' }
  | { readonly status: 'retrying'; readonly attempt: number; readonly retryAt: number }
  | { readonly status: 'dead'; readonly attempt: number; readonly reason: string }
  | { readonly status: 'stale' };

export interface TaskHandlerOptions {
  /** The engine to ack / fail through. @default - built once per container from the environment (Scheduler.fromEnv) */
  readonly engine?: Engine | (() => Promise<Engine>);
  /** The handler name this function serves; events naming another are dead-lettered. @default - any */
  readonly handler?: string;
  /** Idempotency record lifetime in seconds (TICKSET_IDEMPOTENCY_TTL_SECONDS). @default 604800 (7 days) */
  readonly idempotencyTtlSeconds?: number;
  /** Fail the attempt (reason `timeout`) after this long. @default - the Lambda's remaining time decides */
  readonly timeoutMs?: number;
  /** Include payloads in logs (TICKSET_LOG_PAYLOADS). @default false */
  readonly logPayloads?: boolean;
  /** @default - Powertools Logger, service `tickset-handler` */
  readonly logger?: TicksetLogger;
  /** @default - Powertools Metrics (EMF), flushed after every event */
  readonly metrics?: MetricsSink;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

class TaskTimeoutError extends TicksetError {
  override readonly name = 'TicksetTaskTimeoutError';
}

let engineFromEnv: Promise<Engine> | undefined;
function defaultEngine(): Promise<Engine> {
  engineFromEnv ??= Scheduler.fromEnv().then((s) => s.engine);
  return engineFromEnv;
}

function fakeContext(timeoutMs: number, start: number): Pick<Context, 'getRemainingTimeInMillis'> {
  return { getRemainingTimeInMillis: () => Math.max(1, timeoutMs - (Date.now() - start)) };
}

/** Wraps `fn` as a Lambda handler for tickset task events. */
export function taskHandler<R = unknown, P = JsonValue>(
  fn: (task: Task<P>, context?: Context) => Promise<R> | R,
  options: TaskHandlerOptions = {},
): (event: unknown, context?: Context) => Promise<TaskOutcome<R>> {
  const now = options.now ?? Date.now;
  const logPayloads = options.logPayloads ?? process.env[ENV.logPayloads] === 'true';
  const ttl = options.idempotencyTtlSeconds ?? Number(process.env[ENV.idempotencyTtlSeconds] ?? 604_800);
  let logger: TicksetLogger | undefined = options.logger;
  let idempotent: ((key: string, context: unknown, task: Task<P>) => Promise<R>) | undefined;
  let metrics: MetricsSink | undefined = options.metrics;
  const ran = new WeakSet<object>();

  async function resolveEngine(): Promise<Engine> {
    if (typeof options.engine === 'function') return options.engine();
    return options.engine ?? defaultEngine();
  }

  function setup(engine: Engine): NonNullable<typeof idempotent> {
    if (idempotent) return idempotent;
    const persistenceStore = new CachePersistenceLayer({ client: ioredisCacheClient(engine.redis) });
    // Powertools hashes the first argument: the idempotency key itself, so the record key is
    // `<prefix>#md5(JSON.stringify(key))`, exactly what `eventKeyJmesPath: 'idempotencyKey'` on the task gave,
    // without building a JMESPath interpreter twice per task. The context (second argument) sets the
    // in-progress expiry; the task rides along as the third.
    const config = new IdempotencyConfig({ expiresAfterSeconds: ttl, throwOnNoIdempotencyKey: true });
    idempotent = makeIdempotent(
      async (_key: string, context: unknown, task: Task<P>): Promise<R> => {
        ran.add(task);
        return await runWithTimeout(() => fn(task, context as Context), task);
      },
      { persistenceStore, config, keyPrefix: engine.global.idempotencyPrefix },
    ) as unknown as (key: string, context: unknown, task: Task<P>) => Promise<R>;
    return idempotent;
  }

  const lateHandlers = new WeakMap<object, (late: Promise<unknown>) => void>();
  async function runWithTimeout(call: () => Promise<R> | R, task: Task<P>): Promise<R> {
    const promise = Promise.resolve().then(call);
    if (options.timeoutMs === undefined) return promise;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TaskTimeoutError(`handler did not finish within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
    });
    try {
      return await Promise.race([promise, timeout]);
    } catch (error) {
      if (error instanceof TaskTimeoutError) lateHandlers.get(task)?.(promise);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  return async (event: unknown, context?: Context): Promise<TaskOutcome<R>> => {
    logger ??= createLogger('tickset-handler');
    metrics ??= new PowertoolsMetricsSink(process.env[ENV.namespace] ?? 'tickset', {
      serviceName: 'tickset-handler',
    });
    const log = logger;
    const sink = metrics;
    let detail: TaskEventDetail;
    try {
      detail = parseTaskEvent(event);
    } catch (error) {
      log.error('malformed task event', { error: (error as Error).message });
      throw error;
    }
    const engine = await resolveEngine();
    if (detail.namespace !== engine.namespace) {
      const error = new MalformedEventError(
        'detail.namespace',
        `this handler's namespace "${engine.namespace}"`,
        detail.namespace,
      );
      log.error('malformed task event', { error: error.message });
      throw error;
    }
    const started = now();
    const base = {
      id: detail.id,
      handler: detail.handler,
      attempt: detail.attempt,
      idempotencyKey: detail.idempotencyKey,
    };
    log.info('task started', logPayloads ? { ...base, payload: detail.payload } : base);
    // Due → handler start, first deliveries only (a retry's lag would include its backoff).
    if (detail.attempt === 1)
      sink.durationMs(METRICS.handlerStartLagMs, started - Date.parse(detail.scheduledFor));
    try {
      if (options.handler !== undefined && detail.handler !== options.handler) {
        const out = await engine.fail(
          detail,
          {
            reason: 'unknown-handler',
            message: `delivered to "${options.handler}", which does not handle "${detail.handler}"`,
          },
          now(),
          { retry: false },
        );
        sink.count(METRICS.deadLettered);
        log.error('task dead-lettered: unknown handler', base);
        return out.outcome === 'dead'
          ? { status: 'dead', attempt: out.attempt, reason: 'unknown-handler' }
          : { status: 'stale' };
      }
      const task: Task<P> = {
        id: detail.id,
        handler: detail.handler,
        payload: detail.payload as P,
        attempt: detail.attempt,
        idempotencyKey: detail.idempotencyKey,
        scheduledFor: new Date(detail.scheduledFor),
      };
      const run = setup(engine);
      // A timed-out call may still complete. Its ack is attached only once the failure is recorded (below),
      // so it can never reach Redis first: a completion racing the timeout would otherwise ack the job.
      let late: Promise<unknown> | undefined;
      lateHandlers.set(task, (promise) => {
        promise.catch(() => undefined);
        late = promise;
      });
      const ackLate = (promise: Promise<unknown>): void => {
        promise
          .then(async () => {
            const ack = await engine.ack(detail);
            if (ack !== 'acked') {
              sink.count(METRICS.lateAckRejected);
              log.warn('late ack rejected after a timeout', { ...base, outcome: ack });
            }
          })
          // A late failure changes nothing; a store error here leaves the job to its lease.
          .catch(() => undefined);
      };
      const lambdaContext = context ?? fakeContext(options.timeoutMs ?? 60_000, started);
      let result: R;
      try {
        result = await run(task.idempotencyKey, lambdaContext, task);
      } catch (error) {
        if (error instanceof IdempotencyAlreadyInProgressError) {
          log.info('duplicate delivery while the first is running: skipped', base);
          return { status: 'in-progress' };
        }
        const cause = (error as { cause?: unknown }).cause;
        const original = error instanceof TaskTimeoutError || !(cause instanceof Error) ? error : cause;
        const reason = original instanceof TaskTimeoutError ? 'timeout' : 'error';
        const message = original instanceof Error ? original.message : String(original);
        const out = await engine.fail(detail, { reason, message }, now());
        if (late) ackLate(late);
        sink.count(METRICS.failed);
        if (out.outcome === 'retry') {
          sink.count(METRICS.retried);
          log.warn('task failed; retry scheduled', { ...base, reason, error: message, retryAt: out.retryAt });
          return { status: 'retrying', attempt: out.attempt, retryAt: out.retryAt! };
        }
        if (out.outcome === 'dead') {
          sink.count(METRICS.deadLettered);
          log.error('task failed; dead-lettered', { ...base, reason, error: message });
          return { status: 'dead', attempt: out.attempt, reason };
        }
        sink.count(METRICS.lateAckRejected);
        log.warn('failure not recorded: the claim is stale', { ...base, outcome: out.outcome });
        return { status: 'stale' };
      }
      const duplicate = !ran.has(task);
      const ack = await engine.ack(detail);
      if (duplicate) {
        // The function already ran for this key: its stored result stands whatever this claim's ack says
        // (a redelivery of an acked task finds it gone; a newer claim gets its own duplicate and acks).
        if (ack === 'acked') sink.count(METRICS.succeeded);
        log.info('duplicate delivery: stored result returned', { ...base, ack });
        return { status: 'duplicate', result };
      }
      if (ack !== 'acked') {
        sink.count(METRICS.lateAckRejected);
        log.warn('ack rejected: the claim is stale', { ...base, outcome: ack });
        return { status: 'stale' };
      }
      sink.count(METRICS.succeeded);
      log.info('task succeeded', base);
      return { status: 'succeeded', result };
    } finally {
      sink.flush();
    }
  };
}
