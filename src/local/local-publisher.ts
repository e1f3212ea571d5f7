/**
 * The local transport: instead of PutEvents, hand each task (as an EventBridge-shaped event) to its
 * wrapped handler in-process, asynchronously, with bounded concurrency. Everything else is the AWS path.
 */
import { DEFAULTS } from '../config/env.js';
import type { Engine } from '../core/engine.js';
import {
  type Publisher,
  type PublishResult,
  TASK_BATCH_EVENT_VERSION,
  type TaskEventDetail,
} from '../core/types.js';
import { ConfigurationError } from '../errors.js';
import { type LocalBatchDetail, markLocalEvent } from '../handler/event.js';
import type { TaskOutcome } from '../handler/task-handler.js';
import { type BatchPolicy, type ResolvedBatchLimits, resolveBatchPolicy } from '../publish/pack.js';

export type WrappedHandler = (event: unknown) => Promise<TaskOutcome<unknown>>;

export interface LocalPublisherOptions {
  /**
   * The wrapped handlers by name; or one such map per handler connection (each wrapping the handlers
   * with an engine of its own): a task starts on the one with the fewest running tasks.
   */
  readonly handlers: ReadonlyMap<string, WrappedHandler> | ReadonlyArray<ReadonlyMap<string, WrappedHandler>>;
  readonly concurrency: number;
  readonly engine: Engine;
  /** Called with every outcome (the demo counts them). */
  readonly onOutcome?: (
    task: TaskEventDetail,
    outcome: TaskOutcome<unknown> | { status: 'error'; error: unknown },
  ) => void;
  /**
   * Batched delivery: queued tasks of one handler and one shard (up to `maxTasks`) go to the wrapper as
   * one batch event, the same code path as a batch from EventBridge. A batch starts while fewer than
   * `concurrency` tasks run and counts all its tasks as running; inside it the wrapper bounds how many
   * run at once (`taskHandler`'s `batch.concurrency`). `maxBytes` does not apply in-process.
   * @default - none: one event per task
   */
  readonly batch?: BatchPolicy;
  /** Called when a slot frees up, so the tick can claim more. */
  readonly onCapacity?: () => void;
}

function isMapList(
  handlers: LocalPublisherOptions['handlers'],
): handlers is ReadonlyArray<ReadonlyMap<string, WrappedHandler>> {
  return Array.isArray(handlers);
}

export class LocalPublisher implements Publisher {
  readonly #o: LocalPublisherOptions;
  readonly #lanes: ReadonlyArray<ReadonlyMap<string, WrappedHandler>>;
  /** Tasks running on each lane (handler connection). */
  readonly #laneRunning: number[];
  readonly #queue: TaskEventDetail[] = [];
  #running = 0;
  #idle: Array<() => void> = [];
  #closed = false;
  readonly #batch: ReadonlyMap<string, ResolvedBatchLimits>;
  #isoMs = -1;
  #iso = '';

  constructor(options: LocalPublisherOptions) {
    this.#o = options;
    const { handlers } = options;
    this.#lanes = isMapList(handlers) ? [...handlers] : [handlers];
    this.#laneRunning = this.#lanes.map(() => 0);
    this.#batch = resolveBatchPolicy(options.batch);
    if (this.#lanes.length === 0)
      throw new ConfigurationError('LocalPublisher needs at least one map of handlers');
  }

  /** Tasks the tick may still hand over now: twice the concurrency, minus what is queued or running. */
  capacity(): number {
    if (this.#closed) return 0;
    return Math.max(0, this.#o.concurrency * 2 - this.#queue.length - this.#running);
  }

  async publish(tasks: readonly TaskEventDetail[]): Promise<PublishResult> {
    if (this.#closed) return { failed: tasks.map((task) => ({ task, error: 'local runtime stopping' })) };
    this.#queue.push(...tasks);
    this.#pump();
    return { failed: [] };
  }

  #pump(): void {
    while (this.#running < this.#o.concurrency && this.#queue.length > 0) {
      const task = this.#queue.shift()!;
      const lane = this.#leastBusyLane();
      const limits = this.#batch.size > 0 ? this.#batch.get(task.handler) : undefined;
      if (limits !== undefined) {
        const tasks = this.#takeBatch(task, limits.maxTasks);
        this.#running += tasks.length;
        this.#laneRunning[lane]! += tasks.length;
        this.#runBatch(tasks, lane);
        continue;
      }
      this.#running++;
      this.#laneRunning[lane]!++;
      this.#run(task, lane);
    }
  }

  /** `first` and the queued tasks of its handler and shard after it, up to `maxTasks`, in queue order. */
  #takeBatch(first: TaskEventDetail, maxTasks: number): TaskEventDetail[] {
    const tasks = [first];
    let kept = 0;
    for (let i = 0; i < this.#queue.length; i++) {
      const t = this.#queue[i]!;
      if (tasks.length < maxTasks && t.handler === first.handler && t.shard === first.shard) tasks.push(t);
      else this.#queue[kept++] = t;
    }
    this.#queue.length = kept;
    return tasks;
  }

  /** Runs a batch as one event on `lane` and reports each task's outcome, then frees its slots. */
  #runBatch(tasks: TaskEventDetail[], lane: number): void {
    const first = tasks[0]!;
    const handler = this.#lanes[lane]!.get(first.handler);
    const settle = (outcomes: readonly TaskOutcome<unknown>[] | undefined, error?: unknown) => {
      tasks.forEach((task, i) => {
        const outcome = outcomes?.[i];
        this.#notify(task, outcome ?? { status: 'error', error });
      });
      this.#finished(lane, tasks.length);
    };
    let pending: Promise<TaskOutcome<unknown>>;
    try {
      if (!handler) throw new Error(`no local handler named "${first.handler}"`);
      const detail: LocalBatchDetail = {
        v: TASK_BATCH_EVENT_VERSION,
        handler: first.handler,
        namespace: first.namespace,
        shard: first.shard,
        tasks,
      };
      const event = markLocalEvent({
        version: '0',
        id: `${first.id}:${first.claimToken}:${tasks.length}`,
        'detail-type': DEFAULTS.eventDetailType,
        source: DEFAULTS.eventSource,
        time: this.#isoNow(),
        detail,
      });
      pending = Promise.resolve(handler(event));
    } catch (error) {
      void Promise.resolve().then(() => settle(undefined, error));
      return;
    }
    pending.then(
      (outcome) =>
        outcome.status === 'batch'
          ? settle(outcome.outcomes)
          : settle(undefined, new Error(`a batch event ended as "${outcome.status}"`)),
      (error: unknown) => settle(undefined, error),
    );
  }

  /** Tasks are over (their outcomes reported): frees their slots and starts the next. */
  #finished(lane: number, n = 1): void {
    this.#running -= n;
    this.#laneRunning[lane]! -= n;
    this.#pump();
    this.#o.onCapacity?.();
    if (this.#running === 0 && this.#queue.length === 0) {
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  /**
   * The lane with the fewest running tasks (the first on a tie). A slot freed on a lane is refilled on that
   * lane, so the tasks that finish together start their successors together on one connection: each lane
   * keeps batches of about concurrency / lanes, where spreading every task in turn would halve its batches
   * at each generation (more, smaller script calls for the same work).
   */
  #leastBusyLane(): number {
    let best = 0;
    for (let i = 1; i < this.#laneRunning.length; i++) {
      if (this.#laneRunning[i]! < this.#laneRunning[best]!) best = i;
    }
    return best;
  }

  /**
   * Runs one task on `lane` and reports its outcome, then frees the slot. Not async: one promise callback
   * per task rather than an async function, an await and a `finally` (the local path's per-task cost).
   */
  #run(task: TaskEventDetail, lane: number): void {
    const handler = this.#lanes[lane]!.get(task.handler);
    const settle = (outcome: Parameters<NonNullable<LocalPublisherOptions['onOutcome']>>[1]) => {
      this.#notify(task, outcome);
      this.#finished(lane);
    };
    let pending: Promise<TaskOutcome<unknown>>;
    try {
      if (!handler) throw new Error(`no local handler named "${task.handler}"`);
      // Marked as built here from a claim reply: the wrapper does not validate it again.
      const event = markLocalEvent({
        version: '0',
        id: `${task.id}:${task.claimToken}`,
        'detail-type': DEFAULTS.eventDetailType,
        source: DEFAULTS.eventSource,
        time: this.#isoNow(),
        detail: task,
      });
      pending = Promise.resolve(handler(event));
    } catch (error) {
      // Reported on the next microtask, as an async failure would be: never inside #pump's loop.
      void Promise.resolve().then(() => settle({ status: 'error', error }));
      return;
    }
    pending.then(settle, (error: unknown) => settle({ status: 'error', error }));
  }

  /** The event time, formatted once per millisecond rather than once per task. */
  #isoNow(): string {
    const now = Date.now();
    if (now !== this.#isoMs) {
      this.#isoMs = now;
      this.#iso = new Date(now).toISOString();
    }
    return this.#iso;
  }

  /** A throwing `onOutcome` callback must not become an unhandled rejection. */
  #notify(
    task: TaskEventDetail,
    outcome: Parameters<NonNullable<LocalPublisherOptions['onOutcome']>>[1],
  ): void {
    try {
      this.#o.onOutcome?.(task, outcome);
    } catch {
      // The callback is the caller's; its error is not ours to handle.
    }
  }

  /** Stops taking tasks, hands queued ones back (due now) and waits for running handlers. */
  async close(): Promise<void> {
    this.#closed = true;
    const queued = this.#queue.splice(0);
    const now = Date.now();
    await Promise.all(queued.map((task) => this.#o.engine.release(task, now, 'local runtime stopped')));
    if (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}
