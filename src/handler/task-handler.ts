/**
 * `taskHandler(fn)`: the wrapper every handler Lambda (and the local runtime) runs a task through, in four
 * phases, one module each:
 *
 *   validate.ts  parse the event, check it fits the engine
 *   begin.ts     record "in progress" on idempotencyKey (or: duplicate, running elsewhere, unknown handler)
 *   run.ts       fn(task), against its timeout
 *   complete.ts  record "completed" + ack | release the record + fail
 *
 * This file resolves the options, the engine, the logger and the metrics, and runs the phases in order.
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
import { DEFAULTS, ENV, METRICS, SERVICES } from '../config/env.js';
import type { Engine } from '../core/engine.js';
import type { JsonValue, TaskEventDetail } from '../core/types.js';
import { ConfigurationError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { PowertoolsMetricsSink } from '../observability/metrics.js';
import { engineFromEnv } from '../runtime/from-env.js';
import { BatchGate, releaseUnstarted, SummingSink } from './batch.js';
import { begin } from './begin.js';
import { ackLate, failed, succeeded } from './complete.js';
import type { Delivery, WrapperSettings } from './delivery.js';
import { isBatchEvent, localEventDetail, parseBatchEvent } from './event.js';
import { type Executions, executionsOf } from './executions.js';
import { run } from './run.js';
import type { Task, TaskHandlerOptions, TaskOutcome } from './types.js';
import { checkFitsEngine, parseDelivery } from './validate.js';

export type { Task, TaskHandlerOptions, TaskOutcome } from './types.js';

let envEngine: Promise<Engine> | undefined;
function defaultEngine(): Promise<Engine> {
  envEngine ??= engineFromEnv();
  return envEngine;
}

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
  const batchConcurrency =
    options.batch?.concurrency ??
    (process.env[ENV.batchConcurrency]
      ? Number(process.env[ENV.batchConcurrency])
      : DEFAULTS.batchConcurrency);
  if (!Number.isInteger(batchConcurrency) || batchConcurrency < 1)
    throw new ConfigurationError(
      `batch concurrency (${ENV.batchConcurrency}) is "${batchConcurrency}": expected an integer >= 1`,
    );
  const batchMarginMs = options.batch?.marginMs ?? DEFAULTS.batchMarginMs;
  let settings: WrapperSettings | undefined;
  let bound: { engine: Engine; executions: Executions } | undefined;

  /** The logger and metrics are made at the first event (not when the module loads). */
  function settingsNow(): WrapperSettings {
    settings ??= {
      now,
      ttl,
      legacyRecords: options.legacyRecords ?? true,
      timeoutMs: options.timeoutMs,
      handler: options.handler,
      log: options.logger ?? createLogger(SERVICES.handler),
      sink:
        options.metrics ??
        new PowertoolsMetricsSink(process.env[ENV.namespace] ?? DEFAULTS.namespace, {
          serviceName: SERVICES.handler,
        }),
    };
    return settings;
  }

  async function resolveEngine(): Promise<Engine> {
    if (typeof options.engine === 'function') return options.engine();
    return options.engine ?? defaultEngine();
  }

  function executionsFor(engine: Engine): Executions {
    if (bound?.engine !== engine) bound = { engine, executions: executionsOf(engine) };
    return bound.executions;
  }

  /**
   * Phases 2 to 4: begin, run, complete. In a batch, `gate` bounds the tasks running at once and shares
   * the invocation's time: a task it has no time for is released instead of run (`batch.ts`).
   */
  async function handle(
    w: WrapperSettings,
    d: Delivery,
    local: boolean,
    context: Context | undefined,
    started: number,
    gate?: BatchGate,
  ): Promise<TaskOutcome<R>> {
    const begun = await begin<R>(w, d, local, gate?.beginContext ?? context);
    if (!begun.run) return begun.outcome;
    let runWith = w;
    let startedAt = started;
    if (gate !== undefined) {
      const slot = await gate.enter();
      if (!slot.run) return await releaseUnstarted<R>(w, d, begun.recordKey);
      runWith = slot.timeoutMs === w.timeoutMs ? w : { ...w, timeoutMs: slot.timeoutMs };
      startedAt = w.now();
    }
    let ran: Awaited<ReturnType<typeof run<R, P>>>;
    try {
      ran = await run<R, P>(runWith, d, fn, context, startedAt);
    } finally {
      gate?.leave();
    }
    if (!ran.ok) {
      const outcome = await failed<R>(w, d, ran.error, begun.recordKey);
      if (ran.late.promise) ackLate(w, d, ran.late.promise);
      return outcome;
    }
    return await succeeded(w, d, begun.recordKey, ran.result, ran.recordTail);
  }

  /** One task's delivery, from its validated detail (a single event, or one task of a batch). */
  function deliver(
    w: WrapperSettings,
    engine: Engine,
    detail: TaskEventDetail,
    local: boolean,
    context: Context | undefined,
    gate?: BatchGate,
  ): Promise<TaskOutcome<R>> {
    const started = now();
    const base = {
      id: detail.id,
      handler: detail.handler,
      attempt: detail.attempt,
      idempotencyKey: detail.idempotencyKey,
    };
    // Debug level: no log line per task on success at the default level (one line costs more in
    // CloudWatch Logs than the task's share of everything else; BENCHMARKS.md, cost model).
    w.log.debug('task started', logPayloads ? { ...base, payload: detail.payload } : base);
    // Due → handler start, first deliveries only (a retry's lag would include its backoff).
    const due = Date.parse(detail.scheduledFor);
    if (detail.attempt === 1) w.sink.durationMs(METRICS.handlerStartLagMs, started - due);
    return handle(
      w,
      { engine, executions: executionsFor(engine), detail, due, base },
      local,
      context,
      started,
      gate,
    );
  }

  /**
   * A batch event: every task begins in this turn (one "in progress" call), runs through the gate, and
   * ends on its own. One task's error never stops its siblings; an error that escaped a task (the store
   * away while recording its outcome: its claim is left to the lease) is thrown once all have settled,
   * as it would be for a single task.
   */
  async function handleBatch(
    settings: WrapperSettings,
    event: unknown,
    context: Context | undefined,
  ): Promise<TaskOutcome<R>> {
    const sink = new SummingSink(settings.sink);
    const w: WrapperSettings = { ...settings, sink };
    let tasks: readonly TaskEventDetail[];
    try {
      tasks = parseBatchEvent(event);
    } catch (error) {
      w.log.error('malformed task event', { error: (error as Error).message });
      throw error;
    }
    const local = tasks.length > 0 && parseDeliveryIsLocal(event);
    const engine =
      typeof options.engine === 'object' && options.engine !== null ? options.engine : await resolveEngine();
    checkFitsEngine(tasks[0]!, engine, w.log);
    const gate = new BatchGate(
      tasks.length,
      { concurrency: batchConcurrency, marginMs: batchMarginMs },
      w,
      context,
    );
    const settled = await Promise.allSettled(
      tasks.map((detail) => deliver(w, engine, detail, local, context, gate)),
    );
    sink.drain();
    const escaped = settled.find((s) => s.status === 'rejected');
    if (escaped !== undefined) throw (escaped as PromiseRejectedResult).reason;
    return {
      status: 'batch',
      outcomes: settled.map((s) => (s as PromiseFulfilledResult<TaskOutcome<R>>).value),
    };
  }

  return async (event: unknown, context?: Context): Promise<TaskOutcome<R>> => {
    const w = settingsNow();
    try {
      if (isBatchEvent(event)) return await handleBatch(w, event, context);
      // Phase 1: validate.
      const { detail, local } = parseDelivery(event, w.log);
      // An engine passed in (the local runtime) is used as it is: no promise to wait for per task.
      const engine =
        typeof options.engine === 'object' && options.engine !== null
          ? options.engine
          : await resolveEngine();
      checkFitsEngine(detail, engine, w.log);
      return await deliver(w, engine, detail, local, context);
    } finally {
      // Once per invocation, batch or not.
      w.sink.flush();
    }
  };
}

/** Whether the local publisher built this event (it is then not validated again). */
function parseDeliveryIsLocal(event: unknown): boolean {
  return localEventDetail(event) !== undefined;
}
