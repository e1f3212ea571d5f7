/**
 * Batched delivery, the wrapper's side: the tasks of one batch event (one handler, one shard) run inside
 * one invocation with bounded concurrency, each begun, acked or failed on its own (its own claim token and
 * idempotency key), so one task's failure or timeout never touches its siblings.
 *
 * - Begin: every task of the batch calls the begin phase in the same turn, so "in progress" is one script
 *   call for the batch (`turn-batcher.ts`); complete is batched per turn as the tasks finish.
 * - Time: with a Lambda context, the invocation's deadline minus `marginMs` is shared. A task starts only
 *   when at least its reserve is left (its `timeoutMs` when given, else a fair share: the time left at the
 *   start divided by the rounds the batch needs at this concurrency), and runs against what is left (at
 *   most `timeoutMs`). A task that cannot start in time is released (its record deleted, back to
 *   scheduled at once, attempt not counted), never left to time out or to its lease. The first round
 *   (the first `concurrency` tasks) starts whenever any time is left.
 */
import type { Context } from 'aws-lambda';
import { METRICS } from '../config/env.js';
import type { MetricName, MetricsSink } from '../observability/metrics.js';
import { releaseRecord } from './complete.js';
import type { Delivery, WrapperSettings } from './delivery.js';
import type { TaskOutcome } from './types.js';

/** The batch options of `taskHandler`. */
export interface BatchRunOptions {
  /**
   * Tasks of one batch event running at once (TICKSET_BATCH_CONCURRENCY).
   * @default 8
   */
  readonly concurrency?: number;
  /**
   * Time kept back from the Lambda deadline for the last acks and the releases.
   * @default 1000
   */
  readonly marginMs?: number;
}

/** What a task of a batch gets when its turn comes: run with this timeout, or release it. */
export type Slot = { readonly run: true; readonly timeoutMs: number | undefined } | { readonly run: false };

/** Bounded concurrency and the shared deadline of one batch (see the module comment). */
export class BatchGate {
  readonly #free: Array<() => void> = [];
  #active = 0;
  /** Tasks that got a slot so far: the first round starts whenever any time is left. */
  #entered = 0;
  readonly #concurrency: number;
  readonly #context: Context | undefined;
  readonly #marginMs: number;
  readonly #reserve: number | undefined;
  readonly #timeoutMs: number | undefined;

  constructor(
    tasks: number,
    options: { concurrency: number; marginMs: number },
    w: Pick<WrapperSettings, 'timeoutMs'>,
    context: Context | undefined,
  ) {
    this.#concurrency = options.concurrency;
    this.#timeoutMs = w.timeoutMs;
    this.#context = context;
    this.beginContext = undefined;
    this.#marginMs = options.marginMs;
    if (context !== undefined) {
      const atStart = context.getRemainingTimeInMillis();
      this.beginContext = { ...context, getRemainingTimeInMillis: () => atStart };
      const rounds = Math.ceil(tasks / options.concurrency);
      const left = context.getRemainingTimeInMillis() - options.marginMs;
      this.#reserve = w.timeoutMs ?? Math.max(0, left / rounds);
    }
  }

  /**
   * The context the begin phase sees: the time left when the batch arrived, read once, so that every
   * task of the batch shares one "in progress" record value and one begin call (the record's
   * in-progress expiry covers the whole invocation, since a task may start late in it).
   */
  readonly beginContext: Context | undefined;

  /** Waits for a free slot, then says whether the task may still start, and with which timeout. */
  async enter(): Promise<Slot> {
    if (this.#active >= this.#concurrency) await new Promise<void>((resolve) => this.#free.push(resolve));
    else this.#active += 1;
    const firstRound = this.#entered < this.#concurrency;
    this.#entered += 1;
    if (this.#context === undefined) return { run: true, timeoutMs: this.#timeoutMs };
    // Lambda's own clock: the time left is read again for every task.
    const left = this.#context.getRemainingTimeInMillis() - this.#marginMs;
    if (left <= 0 || (!firstRound && left < this.#reserve!)) {
      this.leave();
      return { run: false };
    }
    return { run: true, timeoutMs: Math.min(left, this.#timeoutMs ?? left) };
  }

  /** Frees the slot for the next task. */
  leave(): void {
    const next = this.#free.shift();
    if (next) next();
    else this.#active -= 1;
  }
}

/**
 * The metrics of one batch: counts are summed and handed on once (`TasksSucceeded: 100`, not a hundred
 * values of 1 in the EMF line), durations pass through. `drain()` hands the sums on; the wrapper then
 * flushes once per invocation.
 */
export class SummingSink implements MetricsSink {
  readonly #sums = new Map<MetricName, number>();
  constructor(readonly inner: MetricsSink) {}
  count(name: MetricName, value = 1): void {
    this.#sums.set(name, (this.#sums.get(name) ?? 0) + value);
  }
  durationMs(name: MetricName, value: number): void {
    this.inner.durationMs(name, value);
  }
  /** Hands the summed counts on (once per batch). */
  drain(): void {
    for (const [name, value] of this.#sums) this.inner.count(name, value);
    this.#sums.clear();
  }
  flush(): void {
    this.drain();
    this.inner.flush();
  }
}

/**
 * A task the batch had no time left for: its "in progress" record is deleted and its claim released (due
 * now, attempt not counted), so the next tick hands it out again.
 */
export async function releaseUnstarted<R>(
  w: WrapperSettings,
  d: Delivery,
  recordKey: string,
): Promise<TaskOutcome<R>> {
  await releaseRecord(d, recordKey);
  const released = await d.engine.release(d.detail, w.now(), 'batch: no time left to start it');
  w.sink.count(METRICS.batchReleased);
  w.log.warn('task released unstarted: the batch ran out of time', { ...d.base, released });
  return { status: 'released' };
}
