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
import { DEFAULTS, ENV, METRICS, SERVICES } from '../config/env.js';
import type { AckOutcome, BeginOutcome, Engine } from '../core/engine.js';
import { runScript } from '../core/script.js';
import { LUA } from '../core/scripts.generated.js';
import type { JsonValue, TaskEventDetail } from '../core/types.js';
import { MalformedEventError } from '../errors.js';
import { createLogger, type TicksetLogger } from '../observability/logger.js';
import { type MetricsSink, PowertoolsMetricsSink } from '../observability/metrics.js';
import { localEventDetail, parseTaskEvent } from './event.js';
import {
  completedRecordTail,
  type Executions,
  executionsOf,
  recordKeyOf,
  recordState,
  storedResult,
} from './executions.js';
import { contextFor, runWithTimeout, TaskTimeoutError } from './timeout.js';
import type { Task, TaskHandlerOptions, TaskOutcome } from './types.js';

export type { Task, TaskHandlerOptions, TaskOutcome } from './types.js';

let engineFromEnv: Promise<Engine> | undefined;
function defaultEngine(): Promise<Engine> {
  engineFromEnv ??= Scheduler.fromEnv().then((s) => s.engine);
  return engineFromEnv;
}

/** What one delivery is about: passed to the wrapper's helpers instead of closures made per task. */
interface Delivery {
  readonly engine: Engine;
  readonly detail: TaskEventDetail;
  /** `detail.scheduledFor`, parsed once. */
  readonly due: number;
  /** Log attributes. */
  readonly base: { id: string; handler: string; attempt: number; idempotencyKey: string };
}

const ignore = (): undefined => undefined;

/** Wraps `fn` as a Lambda handler for tickset task events. */
export function taskHandler<R = unknown, P = JsonValue>(
  fn: (task: Task<P>, context?: Context) => Promise<R> | R,
  options: TaskHandlerOptions = {},
): (event: unknown, context?: Context) => Promise<TaskOutcome<R>> {
  const now = options.now ?? Date.now;
  const logPayloads = options.logPayloads ?? process.env[ENV.logPayloads] === 'true';
  const ttl =
    options.idempotencyTtlSeconds ??
    Number(process.env[ENV.idempotencyTtlSeconds] ?? DEFAULTS.idempotencyTtlSeconds);
  const legacyRecords = options.legacyRecords ?? true;
  const timeoutMs = options.timeoutMs;
  let log: TicksetLogger | undefined = options.logger;
  let sink: MetricsSink | undefined = options.metrics;
  let bound: { engine: Engine; executions: Executions } | undefined;

  async function resolveEngine(): Promise<Engine> {
    if (typeof options.engine === 'function') return options.engine();
    return options.engine ?? defaultEngine();
  }

  function executionsFor(engine: Engine): Executions {
    if (bound?.engine !== engine) bound = { engine, executions: executionsOf(engine) };
    return bound.executions;
  }

  /**
   * Deletes this execution's in-progress record, so that a retry can run. A COMPLETED record is never
   * deleted (another execution may have completed it meanwhile). A store error here leaves the record in
   * progress: a retry takes it over once its in-progress expiry passes.
   */
  async function releaseRecord(d: Delivery, recordKey: string): Promise<void> {
    await runScript(d.engine.redis, LUA.idempotencyRelease, [recordKey], []).catch(ignore);
  }

  /** Releases the record (when this execution holds it), then records the failed attempt. */
  async function failed(d: Delivery, error: unknown, recordKey: string | undefined): Promise<TaskOutcome<R>> {
    const reason = error instanceof TaskTimeoutError ? 'timeout' : 'error';
    const message = error instanceof Error ? error.message : String(error);
    if (recordKey !== undefined) await releaseRecord(d, recordKey);
    const out = await d.engine.fail(d.detail, { reason, message }, now());
    sink!.count(METRICS.failed);
    if (out.outcome === 'retry') {
      sink!.count(METRICS.retried);
      log!.warn('task failed; retry scheduled', { ...d.base, reason, error: message, retryAt: out.retryAt });
      return { status: 'retrying', attempt: out.attempt, retryAt: out.retryAt! };
    }
    if (out.outcome === 'dead') {
      sink!.count(METRICS.deadLettered);
      log!.error('task failed; dead-lettered', { ...d.base, reason, error: message });
      return { status: 'dead', attempt: out.attempt, reason };
    }
    sink!.count(METRICS.lateAckRejected);
    log!.warn('failure not recorded: the claim is stale', { ...d.base, outcome: out.outcome });
    return { status: 'stale' };
  }

  /**
   * A delivery whose function already ran for this key: ack its claim, return the stored result. `record`
   * (a COMPLETED record found under the earlier prefix) is copied to the record key in the same call.
   */
  async function duplicate(d: Delivery, result: R, recordKey: string, record = ''): Promise<TaskOutcome<R>> {
    const ack = await executionsFor(d.engine).complete.add({
      shard: d.detail.shard,
      handler: d.detail.handler,
      ttlSeconds: ttl,
      id: d.detail.id,
      claimToken: d.detail.claimToken,
      recordKey,
      recordTail: record,
    });
    // The stored result stands whatever this claim's ack says (a redelivery of an acked task finds it
    // gone; a newer claim gets its own duplicate and acks).
    if (ack === 'acked') sink!.count(METRICS.succeeded);
    log!.info('duplicate delivery: stored result returned', { ...d.base, ack });
    return { status: 'duplicate', result };
  }

  /** The ack of a call that finished after its timeout was recorded: rejected, since the claim is gone. */
  function ackLate(d: Delivery, promise: Promise<unknown>): void {
    promise
      .then(async () => {
        const ack = await d.engine.ack(d.detail);
        if (ack !== 'acked') {
          sink!.count(METRICS.lateAckRejected);
          log!.warn('late ack rejected after a timeout', { ...d.base, outcome: ack });
        }
      })
      // A late failure changes nothing; a store error here leaves the job to its lease.
      .catch(ignore);
  }

  async function handle(
    d: Delivery,
    local: boolean,
    context: Context | undefined,
    started: number,
  ): Promise<TaskOutcome<R>> {
    const { engine, detail, base } = d;
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
      sink!.count(METRICS.deadLettered);
      log!.error('task dead-lettered: unknown handler', base);
      return out.outcome === 'dead'
        ? { status: 'dead', attempt: out.attempt, reason: 'unknown-handler' }
        : { status: 'stale' };
    }
    const executions = executionsFor(engine);
    const recordKey = recordKeyOf(engine.keys(detail.shard).idempotencyPrefix, detail.idempotencyKey);

    // 1. Record "in progress" (one script call with the other tasks of this turn), unless the function
    //    already ran for this key (its stored result is returned) or is running elsewhere (skipped).
    //    Records written before they moved into the shard's slot are looked up alongside, in parallel
    //    (ARCHITECTURE.md, "Upgrading"); only a redelivery can find one, since a first delivery built in
    //    this process was claimed after the upgrade.
    const runFor = context ? context.getRemainingTimeInMillis() : (timeoutMs ?? 60_000);
    const legacyKey =
      legacyRecords && (detail.attempt > 1 || !local)
        ? recordKeyOf(engine.global.legacyIdempotencyPrefix, detail.idempotencyKey)
        : undefined;
    let begun: BeginOutcome;
    let legacy: string | null = null;
    try {
      const beginning = executions.begin.add({
        shard: detail.shard,
        ttlSeconds: ttl,
        runForMs: runFor,
        key: recordKey,
      });
      if (legacyKey === undefined) begun = await beginning;
      else [begun, legacy] = await Promise.all([beginning, engine.redis.get(legacyKey)]);
    } catch (error) {
      // The function has not run. A record this step may have written stays in progress until its
      // in-progress expiry, exactly as after a crash here.
      return await failed(d, error, undefined);
    }
    if (begun.status === 'completed') return await duplicate(d, storedResult(begun.record) as R, recordKey);
    const earlier = legacy === null ? 'none' : recordState(legacy, Date.now());
    if (earlier === 'completed') return await duplicate(d, storedResult(legacy!) as R, recordKey, legacy!);
    if (begun.status === 'running' || earlier === 'running') {
      if (begun.status === 'started') await releaseRecord(d, recordKey);
      log!.info('duplicate delivery while the first is running: skipped', base);
      return { status: 'in-progress' };
    }

    // 2. Run the function.
    const task: Task<P> = {
      id: detail.id,
      handler: detail.handler,
      payload: detail.payload as P,
      attempt: detail.attempt,
      idempotencyKey: detail.idempotencyKey,
      scheduledFor: new Date(d.due),
    };
    const late: { promise?: Promise<unknown> } = {};
    let result: R;
    let recordTail: string;
    try {
      const fnContext = contextFor(context, timeoutMs ?? 60_000, started);
      result = await runWithTimeout(() => fn(task, fnContext), timeoutMs, late);
      recordTail = completedRecordTail(result);
    } catch (error) {
      const outcome = await failed(d, error, recordKey);
      if (late.promise) ackLate(d, late.promise);
      return outcome;
    }

    // 3. Record "completed" and ack, in one script (one call with the other tasks of this turn).
    let ack: AckOutcome;
    try {
      ack = await executions.complete.add({
        shard: detail.shard,
        handler: detail.handler,
        ttlSeconds: ttl,
        id: detail.id,
        claimToken: detail.claimToken,
        recordKey,
        recordTail,
      });
    } catch (error) {
      // The batch failed as a whole, so this task's record and ack may not have been written: the attempt
      // fails (when Redis is still away, that throws and the claim is left to its lease). The record stays
      // in progress until its in-progress expiry, exactly as after a crash at this line.
      return await failed(d, error, undefined);
    }
    if (ack !== 'acked') {
      sink!.count(METRICS.lateAckRejected);
      log!.warn('ack rejected: the claim is stale', { ...base, outcome: ack });
      return { status: 'stale' };
    }
    sink!.count(METRICS.succeeded);
    log!.info('task succeeded', base);
    return { status: 'succeeded', result };
  }

  return async (event: unknown, context?: Context): Promise<TaskOutcome<R>> => {
    log ??= createLogger(SERVICES.handler);
    sink ??= new PowertoolsMetricsSink(process.env[ENV.namespace] ?? DEFAULTS.namespace, {
      serviceName: SERVICES.handler,
    });
    // An event the local publisher built from a claim reply is the engine's own object: not validated again.
    let detail = localEventDetail(event);
    const local = detail !== undefined;
    if (detail === undefined) {
      try {
        detail = parseTaskEvent(event);
      } catch (error) {
        log.error('malformed task event', { error: (error as Error).message });
        throw error;
      }
    }
    // An engine passed in (the local runtime) is used as it is: no promise to wait for per task.
    const engine =
      typeof options.engine === 'object' && options.engine !== null ? options.engine : await resolveEngine();
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
    const due = Date.parse(detail.scheduledFor);
    if (detail.attempt === 1) sink.durationMs(METRICS.handlerStartLagMs, started - due);
    try {
      return await handle({ engine, detail, due, base }, local, context, started);
    } finally {
      sink.flush();
    }
  };
}
