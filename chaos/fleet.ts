/**
 * The handler side of the chaos run, in the parent process: it plays EventBridge → Lambda async invoke.
 *
 * Every entry the loopback PutEvents server accepts is turned into an EventBridge event and handed to the
 * real `taskHandler` wrapper (bounded concurrency, like Lambda). Some events are delivered twice on purpose,
 * at once or a little later. The user function behind the wrapper:
 * - appends one record per execution to an append-only log (task id, idempotency key, attempt, start);
 * - writes its keyed effect the way a careful user would: `SET chaos-effect:<idempotencyKey> … NX`;
 * - fails at random (before or after the effect), hangs past its time-out and lease, or past its lease
 *   only (`chaos.slow`), and always fails for the poison and expiring kinds.
 *
 * Which invocation an execution belongs to is tracked with AsyncLocalStorage, so the log can tell an
 * execution whose effect was written but whose idempotency record was never completed (the crash window).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../src/core/engine.js';
import { TASK_BATCH_EVENT_VERSION, type TaskBatchDetail, type TaskEventDetail } from '../src/core/types.js';
import { type Task, type TaskOutcome, taskHandler } from '../src/handler/task-handler.js';
import type { TicksetLogger } from '../src/observability/logger.js';
import { InMemoryMetrics } from '../src/observability/metrics.js';
import type { RedisClient } from '../src/redis/connection.js';
import type { DeliveredEntry } from '../test/support/eventbridge-loopback.js';
import type { ChaosParams } from './params.js';

export const HANDLERS = {
  oneoff: 'chaos.oneoff',
  keyed: 'chaos.keyed',
  slow: 'chaos.slow',
  poison: 'chaos.poison',
  expiring: 'chaos.expiring',
  every: 'chaos.every',
  cron: 'chaos.cron',
} as const;
export type HandlerName = (typeof HANDLERS)[keyof typeof HANDLERS];
export const ALL_HANDLERS: readonly HandlerName[] = Object.values(HANDLERS);

export function effectKey(idempotencyKey: string): string {
  return `chaos-effect:${idempotencyKey}`;
}

/** What the user function decided to do in one execution. */
export type Behaviour = 'ok' | 'fail-before-effect' | 'fail-after-effect' | 'hang' | 'slow-hang' | 'poison';

/** One execution of the user function (append-only). */
export interface ExecutionRecord {
  readonly seq: number;
  /** The invocation of the wrapper it ran in. */
  readonly inv: number;
  readonly id: string;
  readonly handler: string;
  readonly key: string;
  readonly attempt: number;
  readonly start: number;
  readonly behaviour: Behaviour;
  /** `written`: this execution's SET NX created the effect; `exists`: it was already there. */
  effect?: 'written' | 'exists';
  effectAt?: number;
  end?: number;
  /**
   * Whether the claim that delivered it was still live when the function started, read from the store
   * (state and in-flight score) at `claimCheckedAt`, after the wrapper's start fence: the invariant "no
   * handler start without a live claim". Undefined when the read failed (the store was away).
   */
  claimLive?: boolean;
  claimCheckedAt?: number;
  /** What the check read: the state entry and in-flight score (for the violation's detail). */
  claimSeen?: string;
  /** The delivered claim's lease deadline. */
  leaseUntil?: number;
}

/** One invocation of the wrapper (one delivered event, duplicates included). */
export interface InvocationRecord {
  readonly inv: number;
  readonly id: string;
  readonly handler: string;
  readonly key: string;
  readonly attempt: number;
  readonly claimToken: string;
  readonly shard: number;
  readonly leaseUntil: number;
  readonly duplicate: boolean;
  /** When the loopback accepted the entry (the fleet took it), and when the invocation began. */
  readonly acceptedAt: number;
  readonly start: number;
  status?: TaskOutcome<unknown>['status'] | 'threw';
  error?: string;
  /** Set when the wrapper returned (for `succeeded`: after the idempotency record was completed). */
  end?: number;
}

export interface FleetCounters {
  delivered: number;
  /** Entries that were batch events (batched delivery), and the tasks they carried. */
  batchEvents: number;
  batchedTasks: number;
  duplicatesInjected: number;
  failuresInjected: number;
  failuresBeforeEffect: number;
  failuresAfterEffect: number;
  hangsInjected: number;
  slowHangsInjected: number;
  poisonFailures: number;
  wrapperWarnings: number;
  wrapperErrors: number;
}

interface Pending {
  /** The event's tasks: one, or those of a batch event (`batch`). */
  readonly details: readonly TaskEventDetail[];
  readonly batch: boolean;
  readonly event: unknown;
  readonly duplicate: boolean;
  readonly acceptedAt: number;
}

export class HandlerFleet {
  readonly executions: ExecutionRecord[] = [];
  readonly invocations: InvocationRecord[] = [];
  readonly counters: FleetCounters = {
    delivered: 0,
    batchEvents: 0,
    batchedTasks: 0,
    duplicatesInjected: 0,
    failuresInjected: 0,
    failuresBeforeEffect: 0,
    failuresAfterEffect: 0,
    hangsInjected: 0,
    slowHangsInjected: 0,
    poisonFailures: 0,
    wrapperWarnings: 0,
    wrapperErrors: 0,
  };
  readonly metrics = new InMemoryMetrics();
  readonly #params: ChaosParams;
  readonly #random: () => number;
  readonly #redis: RedisClient;
  readonly #engine: Engine;
  readonly #wrappers = new Map<string, (event: unknown) => Promise<TaskOutcome<unknown>>>();
  /** The invocation records of the running wrapper call, by task id (a batch has one per task). */
  readonly #invocation = new AsyncLocalStorage<ReadonlyMap<string, InvocationRecord>>();
  readonly #queue: Pending[] = [];
  #cursor = 0;
  #running = 0;
  #functionsRunning = 0;
  #delayedDuplicates = 0;
  #pump: NodeJS.Timeout | undefined;

  constructor(params: ChaosParams, engine: Engine, effects: RedisClient, random: () => number) {
    this.#params = params;
    this.#random = random;
    this.#redis = effects;
    this.#engine = engine;
    const logger: TicksetLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => {
        this.counters.wrapperWarnings++;
      },
      error: () => {
        this.counters.wrapperErrors++;
      },
    };
    for (const handler of ALL_HANDLERS) {
      const slow = handler === HANDLERS.slow;
      this.#wrappers.set(
        handler,
        taskHandler((task) => this.#execute(task), {
          engine,
          handler,
          timeoutMs: slow ? params.slowTimeoutMs : params.handlerTimeoutMs,
          idempotencyTtlSeconds: 3600,
          logger,
          metrics: this.metrics,
        }),
      );
    }
  }

  /** Starts taking the entries the loopback accepted (`delivered` grows as PutEvents calls arrive). */
  start(delivered: readonly DeliveredEntry[]): void {
    this.#pump = setInterval(() => this.#take(delivered), 5);
  }

  stop(): void {
    clearInterval(this.#pump);
    this.#pump = undefined;
  }

  /** Invocations waiting for a slot or running: the loopback throttles PutEvents above a limit (backpressure). */
  backlog(): number {
    return this.#queue.length + this.#running;
  }

  /** Nothing queued, running or scheduled for later (hung user functions included). */
  idle(delivered: readonly DeliveredEntry[]): boolean {
    return (
      this.#cursor === delivered.length &&
      this.#queue.length === 0 &&
      this.#running === 0 &&
      this.#functionsRunning === 0 &&
      this.#delayedDuplicates === 0
    );
  }

  #take(delivered: readonly DeliveredEntry[]): void {
    while (this.#cursor < delivered.length) {
      const entry = delivered[this.#cursor++]!;
      const detail = JSON.parse(entry.entry.Detail ?? 'null') as TaskEventDetail | TaskBatchDetail;
      const batch = detail.v === TASK_BATCH_EVENT_VERSION;
      const details: TaskEventDetail[] = batch
        ? (detail as TaskBatchDetail).tasks.map((t) => ({
            ...t,
            v: 1,
            handler: detail.handler,
            namespace: detail.namespace,
            shard: detail.shard,
          }))
        : [detail as TaskEventDetail];
      if (batch) {
        this.counters.batchEvents++;
        this.counters.batchedTasks += details.length;
      }
      const event = {
        version: '0',
        id: entry.eventId,
        'detail-type': entry.entry.DetailType,
        source: entry.entry.Source,
        account: '000000000000',
        time: new Date().toISOString(),
        region: 'us-east-1',
        resources: [],
        detail,
      };
      this.counters.delivered++;
      const acceptedAt = Date.now();
      this.#enqueue({ details, batch, event, duplicate: false, acceptedAt });
      if (this.#random() < this.#params.duplicateRate) {
        this.counters.duplicatesInjected++;
        const delay = this.#random() < 0.4 ? 0 : this.#random() * this.#params.duplicateDelayMaxMs;
        if (delay === 0) this.#enqueue({ details, batch, event, duplicate: true, acceptedAt });
        else {
          this.#delayedDuplicates++;
          setTimeout(() => {
            this.#delayedDuplicates--;
            this.#enqueue({ details, batch, event, duplicate: true, acceptedAt });
          }, delay);
        }
      }
    }
  }

  #enqueue(pending: Pending): void {
    this.#queue.push(pending);
    this.#drain();
  }

  #drain(): void {
    while (this.#running < this.#params.handlerConcurrency && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      this.#running++;
      void this.#invoke(next).finally(() => {
        this.#running--;
        this.#drain();
      });
    }
  }

  async #invoke({ details, batch, event, duplicate, acceptedAt }: Pending): Promise<void> {
    const start = Date.now();
    const records = details.map((detail) => {
      const record: InvocationRecord = {
        inv: this.invocations.length,
        id: detail.id,
        handler: detail.handler,
        key: detail.idempotencyKey,
        attempt: detail.attempt,
        claimToken: detail.claimToken,
        shard: detail.shard,
        leaseUntil: detail.leaseUntil,
        duplicate,
        acceptedAt,
        start,
      };
      this.invocations.push(record);
      return record;
    });
    const handler = details[0]?.handler ?? '';
    const wrapper = this.#wrappers.get(handler);
    try {
      if (!wrapper) throw new Error(`no chaos handler named ${handler}`);
      const byId = new Map(records.map((r) => [r.id, r]));
      const outcome = await this.#invocation.run(byId, () => wrapper(event));
      if (batch && outcome.status === 'batch') {
        outcome.outcomes.forEach((o, i) => {
          records[i]!.status = o.status;
        });
      } else if (batch) {
        throw new Error(`a batch event ended as ${outcome.status}`);
      } else records[0]!.status = outcome.status;
    } catch (error) {
      for (const record of records) {
        record.status = 'threw';
        record.error = (error as Error).message;
      }
    } finally {
      const end = Date.now();
      for (const record of records) record.end = end;
    }
  }

  #behaviour(handler: string): Behaviour {
    if (handler === HANDLERS.poison || handler === HANDLERS.expiring) return 'poison';
    const r = this.#random();
    const p = this.#params;
    if (handler === HANDLERS.slow && r < p.slowHangRate) return 'slow-hang';
    const s = this.#random();
    if (s < p.handlerFailureRate / 2) return 'fail-before-effect';
    if (s < p.handlerFailureRate) return 'fail-after-effect';
    if ((handler === HANDLERS.oneoff || handler === HANDLERS.keyed) && this.#random() < p.hangRate)
      return 'hang';
    return 'ok';
  }

  /** Reads whether the invocation's claim is the task's live claim (the check ack and the start fence make). */
  async #checkClaim(record: ExecutionRecord, invocation: InvocationRecord): Promise<void> {
    record.leaseUntil = invocation.leaseUntil;
    try {
      const k = this.#engine.keys(invocation.shard);
      const [state, score] = await Promise.all([
        this.#engine.redis.hget(k.state, record.id),
        this.#engine.redis.zscore(k.inflight(record.handler), record.id),
      ]);
      record.claimCheckedAt = Date.now();
      const token = invocation.claimToken;
      record.claimSeen = `state ${state} score ${score} token ${token} dup ${invocation.duplicate}`;
      record.claimLive =
        score !== null &&
        (state !== null
          ? state.split('|')[1] === token
          : token.endsWith(`.${record.id}`) && Number(token.slice(0, token.indexOf('.'))) === Number(score));
    } catch {
      // The store is away (an injected outage): nothing known.
    }
  }

  /** The user function: log, maybe misbehave, write the keyed effect. */
  async #execute(task: Task): Promise<{ ok: true }> {
    const invocation = this.#invocation.getStore()?.get(task.id);
    const behaviour = this.#behaviour(task.handler);
    const record: ExecutionRecord = {
      seq: this.executions.length,
      inv: invocation?.inv ?? -1,
      id: task.id,
      handler: task.handler,
      key: task.idempotencyKey,
      attempt: task.attempt,
      start: Date.now(),
      behaviour,
    };
    this.executions.push(record);
    if (invocation) await this.#checkClaim(record, invocation);
    this.#functionsRunning++;
    const c = this.counters;
    try {
      switch (behaviour) {
        case 'poison':
          c.poisonFailures++;
          throw new Error('poison task: always fails');
        case 'fail-before-effect':
          c.failuresInjected++;
          c.failuresBeforeEffect++;
          throw new Error('injected failure before the effect');
        case 'hang':
          // Past the wrapper's time-out and the lease: the wrapper records a timeout, this keeps running
          // (a zombie) and writes its effect late, maybe after a retry already did.
          c.hangsInjected++;
          await sleep(this.#params.leaseMs + this.#params.handlerTimeoutMs);
          break;
        case 'slow-hang':
          // Past the lease but within the time-out: the tick hands the task out again meanwhile.
          c.slowHangsInjected++;
          await sleep(Math.round((this.#params.slowLeaseMs + this.#params.slowTimeoutMs) / 2));
          break;
        default:
          break;
      }
      const written = await this.#redis.set(effectKey(task.idempotencyKey), String(record.seq), 'NX');
      record.effect = written === 'OK' ? 'written' : 'exists';
      record.effectAt = Date.now();
      if (behaviour === 'fail-after-effect') {
        c.failuresInjected++;
        c.failuresAfterEffect++;
        throw new Error('injected failure after the effect (before the idempotency record)');
      }
      return { ok: true };
    } finally {
      record.end = Date.now();
      this.#functionsRunning--;
    }
  }
}
