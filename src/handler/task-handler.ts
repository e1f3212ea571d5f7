/**
 * `taskHandler(fn)`: the wrapper every handler Lambda (and the local runtime) runs a task through.
 *
 *   validate event → record "in progress" on idempotencyKey → fn(task) → record "completed" + ack | fail
 *
 * The idempotency records are Powertools' (same key and JSON, see `executions.ts`), in the task's shard
 * slot. "In progress" and "completed + ack" are each one Lua call for all the tasks of one event-loop turn
 * (`turn-batcher.ts`): a batch of one in a Lambda, of up to the concurrency locally; the same code path.
 * Record and ack land in one script, so there is no window between them.
 *
 * Acks carry the claim token, so a late ack from an expired lease is rejected. After a failure is recorded
 * the wrapper returns normally: tickset owns retries (Lambda's own are off) and emits a metric.
 *
 * The one window the wrapper cannot close: a crash after `fn`'s side effect and before the completed
 * record is saved lets a redelivery run `fn` again. Write effects keyed by `task.idempotencyKey` (or in
 * the same transaction as your own record) to make them exactly-once.
 */
import type { Context } from 'aws-lambda';
import { Scheduler } from '../client/scheduler.js';
import { ENV, METRICS } from '../config/env.js';
import type { AckOutcome, BeginOutcome, Engine } from '../core/engine.js';
import { runScript } from '../core/script.js';
import { LUA } from '../core/scripts.generated.js';
import type { JsonValue, TaskEventDetail } from '../core/types.js';
import { MalformedEventError, TicksetError } from '../errors.js';
import { createLogger, type TicksetLogger } from '../observability/logger.js';
import { type MetricsSink, PowertoolsMetricsSink } from '../observability/metrics.js';
import { localEventDetail, parseTaskEvent } from './event.js';
import {
  completedRecord,
  type Executions,
  executionsOf,
  inProgressRecord,
  recordExpiry,
  recordKeyOf,
  recordState,
  storedResult,
} from './executions.js';

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
  /**
   * Also look for records under the prefix earlier versions wrote them to (`tickset-idem:<namespace>#…`),
   * for redeliveries (attempt > 1) and events from EventBridge: one GET each. Turn it off once
   * `idempotencyTtlSeconds` has passed since the upgrade (ARCHITECTURE.md, "Upgrading"). @default true
   */
  readonly legacyRecords?: boolean;
}

class TaskTimeoutError extends TicksetError {
  override readonly name = 'TicksetTaskTimeoutError';
}

let engineFromEnv: Promise<Engine> | undefined;
function defaultEngine(): Promise<Engine> {
  engineFromEnv ??= Scheduler.fromEnv().then((s) => s.engine);
  return engineFromEnv;
}

/** What `fn` receives as its context outside Lambda: the time left before its timeout. */
class LocalContext {
  readonly #timeoutMs: number;
  readonly #start: number;
  constructor(timeoutMs: number, start: number) {
    this.#timeoutMs = timeoutMs;
    this.#start = start;
  }
  getRemainingTimeInMillis(): number {
    return Math.max(1, this.#timeoutMs - (Date.now() - this.#start));
  }
}

/** Wraps `fn` as a Lambda handler for tickset task events. */
export function taskHandler<R = unknown, P = JsonValue>(
  fn: (task: Task<P>, context?: Context) => Promise<R> | R,
  options: TaskHandlerOptions = {},
): (event: unknown, context?: Context) => Promise<TaskOutcome<R>> {
  const now = options.now ?? Date.now;
  const logPayloads = options.logPayloads ?? process.env[ENV.logPayloads] === 'true';
  const ttl = options.idempotencyTtlSeconds ?? Number(process.env[ENV.idempotencyTtlSeconds] ?? 604_800);
  const legacyRecords = options.legacyRecords ?? true;
  let logger: TicksetLogger | undefined = options.logger;
  let metrics: MetricsSink | undefined = options.metrics;
  let bound: { engine: Engine; executions: Executions } | undefined;

  async function resolveEngine(): Promise<Engine> {
    if (typeof options.engine === 'function') return options.engine();
    return options.engine ?? defaultEngine();
  }

  function executionsFor(engine: Engine): Executions {
    if (bound?.engine !== engine) bound = { engine, executions: executionsOf(engine) };
    return bound.executions;
  }

  /** Runs `fn`; past `timeoutMs` rejects with TaskTimeoutError and hands the still-running call to `onLate`. */
  async function run(task: Task<P>, context: Context, onLate: (late: Promise<unknown>) => void): Promise<R> {
    if (options.timeoutMs === undefined) return await fn(task, context);
    const promise = Promise.resolve().then(() => fn(task, context));
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
      if (error instanceof TaskTimeoutError) {
        promise.catch(() => undefined);
        onLate(promise);
      }
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
    // An event the local publisher built from a claim reply is the engine's own object: not validated again.
    const local = localEventDetail(event);
    let detail: TaskEventDetail;
    if (local !== undefined) detail = local;
    else {
      try {
        detail = parseTaskEvent(event);
      } catch (error) {
        log.error('malformed task event', { error: (error as Error).message });
        throw error;
      }
    }
    const engine = await resolveEngine();
    const misfit =
      detail.namespace !== engine.namespace
        ? new MalformedEventError(
            'detail.namespace',
            `this handler's namespace "${engine.namespace}"`,
            detail.namespace,
          )
        : detail.shard >= engine.shards
          ? new MalformedEventError('detail.shard', `a shard from 0 to ${engine.shards - 1}`, detail.shard)
          : undefined;
    if (misfit) {
      log.error('malformed task event', { error: misfit.message });
      throw misfit;
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

    /** Releases the record (when this execution holds it), then records the failed attempt. */
    async function failed(error: unknown, recordKey: string | undefined): Promise<TaskOutcome<R>> {
      const reason = error instanceof TaskTimeoutError ? 'timeout' : 'error';
      const message = error instanceof Error ? error.message : String(error);
      if (recordKey !== undefined) {
        // A COMPLETED record is never deleted (another execution may have completed it meanwhile). A store
        // error here leaves the record in progress: the retry takes it over once its in-progress expiry passes.
        await runScript(engine.redis, LUA.idempotencyRelease, [recordKey], []).catch(() => undefined);
      }
      const out = await engine.fail(detail, { reason, message }, now());
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

    /** Acks the claim of a delivery whose function already ran for this key, and returns its stored result. */
    async function duplicate(result: R, recordKey: string): Promise<TaskOutcome<R>> {
      const ack = await executionsFor(engine).complete.add({
        shard: detail.shard,
        handler: detail.handler,
        ttlSeconds: ttl,
        id: detail.id,
        claimToken: detail.claimToken,
        recordKey,
        record: '',
      });
      // The stored result stands whatever this claim's ack says (a redelivery of an acked task finds it
      // gone; a newer claim gets its own duplicate and acks).
      if (ack === 'acked') sink.count(METRICS.succeeded);
      log.info('duplicate delivery: stored result returned', { ...base, ack });
      return { status: 'duplicate', result };
    }

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
      const executions = executionsFor(engine);
      const recordKey = recordKeyOf(engine.keys(detail.shard).idempotencyPrefix, detail.idempotencyKey);

      // Records written before they moved into the shard's slot (ARCHITECTURE.md, "Upgrading"). Only a
      // redelivery can find one: a first delivery built in this process was claimed after the upgrade.
      if (legacyRecords && (detail.attempt > 1 || local === undefined)) {
        const legacy = await engine.redis.get(
          recordKeyOf(engine.global.legacyIdempotencyPrefix, detail.idempotencyKey),
        );
        const state = legacy === null ? 'none' : recordState(legacy, Date.now());
        if (state === 'completed') return await duplicate(storedResult(legacy!) as R, recordKey);
        if (state === 'running') {
          log.info('duplicate delivery while the first is running: skipped', base);
          return { status: 'in-progress' };
        }
      }

      // 1. Record "in progress" (batched with the other tasks of this turn), unless the function already
      //    ran for this key (its stored result is returned) or is running elsewhere (skipped).
      const wallNow = Date.now();
      const inProgressUntil =
        wallNow + (context ? context.getRemainingTimeInMillis() : (options.timeoutMs ?? 60_000));
      let begun: BeginOutcome;
      try {
        begun = await executions.begin.add({
          shard: detail.shard,
          ttlSeconds: ttl,
          key: recordKey,
          inProgress: inProgressRecord(recordExpiry(wallNow, ttl), inProgressUntil),
        });
      } catch (error) {
        return await failed(error, undefined);
      }
      if (begun.status === 'running') {
        log.info('duplicate delivery while the first is running: skipped', base);
        return { status: 'in-progress' };
      }
      if (begun.status === 'completed') return await duplicate(storedResult(begun.record) as R, recordKey);

      // 2. Run the function.
      const task: Task<P> = {
        id: detail.id,
        handler: detail.handler,
        payload: detail.payload as P,
        attempt: detail.attempt,
        idempotencyKey: detail.idempotencyKey,
        scheduledFor: new Date(detail.scheduledFor),
      };
      // A timed-out call may still complete. Its ack is attached only once the failure is recorded (below),
      // so it can never reach Redis first: a completion racing the timeout would otherwise ack the job.
      let late: Promise<unknown> | undefined;
      let record: string;
      let result: R;
      try {
        result = await run(
          task,
          context ?? (new LocalContext(options.timeoutMs ?? 60_000, started) as unknown as Context),
          (p) => {
            late = p;
          },
        );
        record = completedRecord(recordExpiry(Date.now(), ttl), result);
      } catch (error) {
        const outcome = await failed(error, recordKey);
        if (late) ackLate(late);
        return outcome;
      }

      // 3. Record "completed" and ack, in one script (batched with the other tasks of this turn).
      let ack: AckOutcome;
      try {
        ack = await executions.complete.add({
          shard: detail.shard,
          handler: detail.handler,
          ttlSeconds: ttl,
          id: detail.id,
          claimToken: detail.claimToken,
          recordKey,
          record,
        });
      } catch (error) {
        // Nothing of the batch may have been written: the attempt fails (or, when Redis is still away, the
        // claim is left to its lease). The record stays in progress until its expiry, as after a crash here.
        return await failed(error, undefined);
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

    function ackLate(promise: Promise<unknown>): void {
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
    }
  };
}
