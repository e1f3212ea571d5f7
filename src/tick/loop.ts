/**
 * The tick loop: return expired leases, promote due jobs, claim within limits, publish, repeat; then sleep
 * on a Node timer until the next due time, waking early when a producer schedules something sooner.
 *
 * `second` mode keeps looping until `until` and holds a leader lease in Redis, so of two overlapping
 * invocations only one loops; the other waits and takes over when the lease lapses or is released.
 * `minute` mode (or `pass()`) does one pass.
 */
import { hostname } from 'node:os';
import { METRICS } from '../config/env.js';
import {
  type ClaimSpec,
  claimedCount,
  decodeClaim,
  type Engine,
  type HandlerLimits,
  type RawClaim,
  shardWake,
  type TaskRef,
} from '../core/engine.js';
import { pausedHandlers } from '../core/inspect.js';
import { releaseLeaderLease, takeLeaderLease } from '../core/store/leader.js';
import type { Publisher, TaskEventDetail } from '../core/types.js';
import { silentLogger, type TicksetLogger } from '../observability/logger.js';
import { type MetricsSink, NoopMetrics } from '../observability/metrics.js';
import { Waker } from './waker.js';

export type { Precision } from '../config/env.js';

/** While a pass drains a backlog, the heartbeat is written this often. */
const HEARTBEAT_DURING_DRAIN_EVERY_MS = 1000;

/** Whether a claim batch holds an occurrence of a series ("<series id>@<ms>"): its series may need arming. */
function hasOccurrence(tasks: readonly TaskEventDetail[]): boolean {
  for (const t of tasks) if (t.id.includes('@')) return true;
  return false;
}

export interface TickLoopOptions {
  readonly engine: Engine;
  readonly publisher: Publisher;
  /** Lease per handler (ms), or one lease for all. @default 60000 */
  readonly leaseMs?: number | Readonly<Record<string, number>>;
  /** Lease for handlers missing from a `leaseMs` map. @default 60000 */
  readonly defaultLeaseMs?: number;
  /** Per-handler rate limits and in-flight caps. @default - none */
  readonly rateLimits?: Readonly<Record<string, HandlerLimits>>;
  /** When set, tasks of any other handler are dead-lettered with reason `unknown-handler`. @default - all accepted */
  readonly knownHandlers?: ReadonlySet<string>;
  /** Most tasks claimed per handler per claim call. @default 1000 */
  readonly batchSize?: number;
  /** Claim calls sent ahead while a backlog is drained, so decoding overlaps them (at least 1). @default 2 */
  readonly claimAhead?: number;
  /** Publish calls overlapped with the next claim. @default 4 */
  readonly publishPipeline?: number;
  /** Leader lease length in `second` mode. @default 10000 */
  readonly leaderLeaseMs?: number;
  /** Longest sleep between passes (heartbeat, leader renewal). @default 1000 */
  readonly maxSleepMs?: number;
  /** Delay before a task whose publish failed is due again. @default 1000 */
  readonly publishRetryDelayMs?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
  readonly metrics?: MetricsSink;
  readonly logger?: TicksetLogger;
  /** Identifies this process in the leader lease and heartbeat. @default host-pid-random */
  readonly ownerId?: string;
}

export interface PassStats {
  /** Parked jobs moved into their delayed queues (their slot starts soon). */
  unparked: number;
  claimed: number;
  published: number;
  publishFailed: number;
  expired: number;
  requeued: number;
  leaseDead: number;
  unknownHandler: number;
  /** Recurring series that ended (completed) in this pass. */
  seriesEnded: number;
}

function emptyPassStats(): PassStats {
  return {
    unparked: 0,
    claimed: 0,
    published: 0,
    publishFailed: 0,
    expired: 0,
    requeued: 0,
    leaseDead: 0,
    unknownHandler: 0,
    seriesEnded: 0,
  };
}

/** A publisher that can say how many more tasks it can take now (the local runtime). */
export interface CapacityAware {
  capacity(): number;
}

function hasCapacity(p: Publisher): p is Publisher & CapacityAware {
  return typeof (p as Partial<CapacityAware>).capacity === 'function';
}

export class TickLoop {
  readonly ownerId: string;
  readonly #o: TickLoopOptions;
  readonly #now: () => number;
  readonly #metrics: MetricsSink;
  readonly #logger: TicksetLogger;
  #stopped = false;
  #waker: Waker | undefined;
  #lastRenew = 0;
  #lastHeartbeat = 0;
  #lastBacklogSample = 0;
  /** When a rate limit held a handler back: the loop-clock time its window frees (see `#sleepTarget`). */
  #rateRetryAt: number | undefined;

  constructor(options: TickLoopOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#metrics = options.metrics ?? new NoopMetrics();
    this.#logger = options.logger ?? silentLogger;
    this.ownerId =
      options.ownerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  }

  get engine(): Engine {
    return this.#o.engine;
  }

  #leaseFor(handler: string): number {
    const lease = this.#o.leaseMs;
    if (typeof lease === 'number') return lease;
    return lease?.[handler] ?? this.#o.defaultLeaseMs ?? 60_000;
  }

  /** One pass over every shard. Safe to run concurrently with other passes (claims are atomic). */
  async pass(): Promise<PassStats> {
    const stats = emptyPassStats();
    const engine = this.#o.engine;
    const paused = await pausedHandlers(engine);
    const batchSize = this.#o.batchSize ?? 1000;
    const promoteLimit = Math.max(batchSize, 1000);
    const claimAhead = Math.max(1, this.#o.claimAhead ?? 2);
    const pipeline = this.#o.publishPipeline ?? 4;
    const publishing = new Set<Promise<void>>();
    // Rate-limit reservations being settled (each claim call reserved for itself): awaited by the pass's end.
    const settling: Promise<void>[] = [];
    // A publish job that failed (e.g. releasing its failed entries hit a Redis error): fail the pass with it.
    let publishError: unknown;

    for (let shard = 0; shard < engine.shards && !this.#stopped; shard++) {
      const handlers = await engine.handlersOf(shard);
      if (handlers.length === 0) continue;
      stats.unparked += await engine.advanceParked(shard, handlers, this.#now());
      const requeue = await engine.requeueExpired(shard, handlers, this.#now(), 1000);
      stats.requeued += requeue.requeued;
      stats.leaseDead += requeue.dead;
      if (requeue.dead > 0) this.#metrics.count(METRICS.deadLettered, requeue.dead);
      // Paused handlers are promoted (their jobs wait in ready) but not claimed.
      const capacityAware = hasCapacity(this.#o.publisher);
      const sendClaim = (): { limit: number; raw: Promise<RawClaim> } => {
        let limit = batchSize;
        if (capacityAware) limit = Math.min(limit, (this.#o.publisher as CapacityAware).capacity());
        const specs: ClaimSpec[] = handlers.map((handler) => {
          const limits = this.#o.rateLimits?.[handler];
          return {
            handler,
            limit: paused.has(handler) ? 0 : limit,
            leaseMs: this.#leaseFor(handler),
            ...(limits ? { limits } : {}),
          };
        });
        const raw = engine.claimRaw(shard, specs, this.#now(), { promoteLimit });
        // Awaited later (after the previous batch is decoded): no unhandled rejection meanwhile.
        raw.catch(() => undefined);
        return { limit, raw };
      };
      // Claim calls ahead: when a batch comes back full, the next claims (up to `claimAhead` in flight) are
      // sent before this one is decoded and published, so Redis claims while Node decodes and parses
      // replies. Memory stays bounded by the batch size. Every claimed job is in in-flight with a lease
      // from the moment its script ran, so a crash anywhere in between leaves it to requeue-expired; a
      // claim already sent is always decoded and published, even after stop(). A capacity-aware publisher
      // (the local runtime) is asked for its capacity after the previous batch is handed over, so it
      // claims one call at a time.
      const ahead: Array<{ limit: number; raw: Promise<RawClaim> }> = [];
      if (!this.#stopped) ahead.push(sendClaim());
      let lastBeat = this.#now();
      let drained = false;
      for (let claim = ahead.shift(); claim; claim = ahead.shift()) {
        const raw = await claim.raw;
        this.#noteRateLimit(raw, settling);
        const full = claim.limit > 0 && claimedCount(raw) >= claim.limit;
        if (!full) drained = true;
        const more = !drained && !this.#stopped;
        if (more && !capacityAware) while (ahead.length < claimAhead) ahead.push(sendClaim());
        const { tasks, dueAt, expired, seriesEnded } = decodeClaim(raw);
        stats.expired += expired;
        if (expired > 0) this.#metrics.count(METRICS.expired, expired);
        if (seriesEnded > 0) this.#seriesEnded(seriesEnded, stats);
        // A cron series fired in this batch waits in `arm` for Node's next occurrence: arm it now, not after
        // the backlog, so its next occurrence is precomputed when it comes due (a series never waits behind
        // one-off tasks). Awaited before the next batch: arm-series.lua and a claim of the same series must
        // not interleave (the publishing of this batch still overlaps it).
        if (hasOccurrence(tasks)) await this.#armPending(shard);
        if (tasks.length > 0) {
          stats.claimed += tasks.length;
          const job = this.#publish(await this.#rejectUnknown(tasks, dueAt, stats), stats);
          publishing.add(job);
          void job.then(
            () => publishing.delete(job),
            (error: unknown) => {
              publishing.delete(job);
              publishError ??= error;
            },
          );
          if (publishing.size >= pipeline) await Promise.race(publishing);
          await this.#renewIfDue();
        }
        if (more && this.#now() - lastBeat >= HEARTBEAT_DURING_DRAIN_EVERY_MS) {
          await this.#heartbeat(stats);
          lastBeat = this.#now();
        }
        if (more && capacityAware && !this.#stopped && (await this.#awaitCapacity())) ahead.push(sendClaim());
      }
      await this.#armPending(shard);
    }
    await Promise.all(publishing);
    await Promise.all(settling);
    if (publishError !== undefined) throw publishError;
    await this.#heartbeat(stats);
    await this.#sampleBacklog();
    return stats;
  }

  /**
   * A capacity-aware publisher that is full (the local runtime: every slot running, its queue full) is
   * waited for within the pass, until a slot frees or `maxSleepMs` passes: the drain goes on with the
   * next claim as soon as there is room, instead of ending the pass and starting another (its leader,
   * requeue and wake round trips, per handful of tasks), and no claim is sent with nothing to take (which
   * would only move the due jobs into ready). Returns false when there is still no room (the pass ends).
   */
  async #awaitCapacity(): Promise<boolean> {
    const publisher = this.#o.publisher as Publisher & CapacityAware;
    const waker = this.#waker;
    if (publisher.capacity() > 0) return true;
    if (!waker) return false;
    const deadline =
      this.#now() + Math.min(this.#o.maxSleepMs ?? 1000, (this.#o.leaderLeaseMs ?? 10_000) / 3);
    while (!this.#stopped && publisher.capacity() === 0 && this.#now() < deadline) {
      await waker.sleepUntil(deadline, this.#now);
      // A wake comes with the first task that finishes: let the others that finish in the same turn free
      // their slots too, so that the claim takes them all in one call.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await this.#renewIfDue();
    return !this.#stopped && publisher.capacity() > 0;
  }

  /** Series that completed in a claim: reported (metric, info log), not dead-lettered. */
  #seriesEnded(count: number, stats: PassStats): void {
    stats.seriesEnded += count;
    this.#metrics.count(METRICS.seriesEnded, count);
    this.#logger.info('recurring series ended: expiresAt reached', { count, reason: 'series-expired' });
  }

  /** Keeps a claim's rate-limit settlement, and when its window frees if a limit held a handler back. */
  #noteRateLimit(raw: RawClaim, settling: Promise<void>[]): void {
    settling.push(raw.settled);
    if (raw.rateRetryInMs === undefined) return;
    const at = this.#now() + Math.max(0, raw.rateRetryInMs);
    this.#rateRetryAt = Math.min(this.#rateRetryAt ?? at, at);
  }

  async #armPending(shard: number): Promise<void> {
    const engine = this.#o.engine;
    if ((await engine.redis.scard(engine.keys(shard).arm)) > 0) await engine.armPending(shard, this.#now());
  }

  async #rejectUnknown(
    tasks: TaskEventDetail[],
    dueAt: number[],
    stats: PassStats,
  ): Promise<{ tasks: TaskEventDetail[]; dueAt: number[] }> {
    const known = this.#o.knownHandlers;
    if (!known) return { tasks, dueAt };
    const ok: TaskEventDetail[] = [];
    const okDueAt: number[] = [];
    for (const [i, task] of tasks.entries()) {
      if (known.has(task.handler)) {
        ok.push(task);
        okDueAt.push(dueAt[i]!);
        continue;
      }
      stats.unknownHandler++;
      await this.#o.engine.fail(
        task,
        { reason: 'unknown-handler', message: `no handler named "${task.handler}" is deployed` },
        this.#now(),
        { retry: false },
      );
      this.#metrics.count(METRICS.deadLettered);
      this.#logger.error('task dead-lettered: unknown handler', { id: task.id, handler: task.handler });
    }
    return { tasks: ok, dueAt: okDueAt };
  }

  async #publish(batch: { tasks: TaskEventDetail[]; dueAt: number[] }, stats: PassStats): Promise<void> {
    const { tasks, dueAt } = batch;
    if (tasks.length === 0) return;
    let failed: readonly { task: TaskEventDetail; error: string }[];
    try {
      failed = (await this.#o.publisher.publish(tasks)).failed;
    } catch (error) {
      failed = tasks.map((task) => ({ task, error: (error as Error).message }));
    }
    const publishedAt = this.#now();
    const failedIds = failed.length === 0 ? undefined : new Set(failed.map((f) => f.task.id));
    for (const [i, task] of tasks.entries()) {
      if (failedIds?.has(task.id)) continue;
      this.#metrics.durationMs(METRICS.lagMs, publishedAt - dueAt[i]!);
    }
    stats.published += tasks.length - failed.length;
    this.#metrics.count(METRICS.dispatched, tasks.length - failed.length);
    if (failed.length === 0) return;
    stats.publishFailed += failed.length;
    this.#metrics.count(METRICS.publishFailures, failed.length);
    this.#logger.warn('publish failed; tasks released for a retry', {
      count: failed.length,
      error: failed[0]?.error,
    });
    const retryAt = this.#now() + (this.#o.publishRetryDelayMs ?? 1000);
    await Promise.all(failed.map((f) => this.#o.engine.release(f.task as TaskRef, retryAt, f.error)));
  }

  async #heartbeat(stats: PassStats): Promise<void> {
    const now = this.#now();
    if (now - this.#lastHeartbeat < 1000 && stats.claimed === 0) return;
    this.#lastHeartbeat = now;
    await this.#o.engine.redis.hset(this.#o.engine.global.heartbeat, {
      at: now,
      owner: this.ownerId,
      mode: this.#waker ? 'second' : 'minute',
    });
    this.#metrics.count(METRICS.tickHeartbeat);
  }

  /** Takes or renews the leader lease; true while this loop is the leader. */
  async acquireLeadership(): Promise<boolean> {
    const held = await takeLeaderLease(this.#o.engine, this.ownerId, this.#o.leaderLeaseMs ?? 10_000);
    if (held) this.#lastRenew = this.#now();
    return held;
  }

  async #renewIfDue(): Promise<void> {
    if (!this.#waker) return;
    if (this.#now() - this.#lastRenew > (this.#o.leaderLeaseMs ?? 10_000) / 3) await this.acquireLeadership();
  }

  /** How long to sleep: until the next due job, lease expiry or rate window; at most `maxSleepMs`. */
  async #sleepTarget(until: number): Promise<number> {
    const engine = this.#o.engine;
    const now = this.#now();
    // Wake in time to renew the leader lease (every third of it), or a follower takes over while we sleep.
    const maxSleep = Math.min(this.#o.maxSleepMs ?? 1000, (this.#o.leaderLeaseMs ?? 10_000) / 3);
    let target = Math.min(until, now + maxSleep);
    // A rate-limited backlog: wake when its window frees (measured on the Redis clock from the reservation).
    if (this.#rateRetryAt !== undefined) target = Math.min(target, Math.max(now, this.#rateRetryAt));
    this.#rateRetryAt = undefined;
    const paused = await pausedHandlers(engine);
    for (let shard = 0; shard < engine.shards; shard++) {
      const handlers = (await engine.handlersOf(shard)).filter((h) => !paused.has(h));
      if (handlers.length === 0) continue;
      const wake = await shardWake(engine, shard, handlers, now);
      if (wake.nextDueAt !== undefined) target = Math.min(target, wake.nextDueAt);
      if (wake.nextLeaseExpiry !== undefined) target = Math.min(target, wake.nextLeaseExpiry + 1);
      // A backlog held back by an in-flight cap (or a rate limit, also covered above): look again soon.
      if (wake.readyBacklog > 0) target = Math.min(target, now + 50);
      if (wake.armPending > 0) target = Math.min(target, now + 100);
    }
    return target;
  }

  /**
   * Emits OldestDueAgeMs (the backlog-lag alarm's metric): the age of the oldest job that is due and not
   * claimed, across shards. At most every 10 s, and on every `minute`-mode pass.
   */
  async #sampleBacklog(): Promise<void> {
    const now = this.#now();
    if (this.#lastBacklogSample !== 0 && now - this.#lastBacklogSample < 10_000) return;
    this.#lastBacklogSample = now;
    const engine = this.#o.engine;
    let oldestDue: number | undefined;
    for (let shard = 0; shard < engine.shards; shard++) {
      const handlers = await engine.handlersOf(shard);
      if (handlers.length === 0) continue;
      const wake = await shardWake(engine, shard, handlers, now);
      if (wake.oldestDueAt !== undefined)
        oldestDue = Math.min(oldestDue ?? wake.oldestDueAt, wake.oldestDueAt);
    }
    this.#metrics.durationMs(
      METRICS.oldestDueAgeMs,
      oldestDue === undefined ? 0 : Math.max(0, now - oldestDue),
    );
  }

  /**
   * Loops until `until` (epoch ms) or `stop()`: only while holding the leader lease; otherwise waits to
   * take it over. Errors (e.g. Redis restarting) are logged and retried after a short pause.
   */
  async run(until: number): Promise<{ passes: number; totals: PassStats; led: boolean }> {
    const totals = emptyPassStats();
    let passes = 0;
    let led = false;
    this.#waker = new Waker(this.#o.engine.redis, this.#o.engine.global.wakeChannel);
    await this.#waker.start();
    let lastFlush = this.#now();
    try {
      while (!this.#stopped && this.#now() < until) {
        try {
          if (!(await this.acquireLeadership())) {
            await this.#waker.sleepUntil(Math.min(until, this.#now() + 1000), this.#now);
            continue;
          }
          led = true;
          const stats = await this.pass();
          passes++;
          for (const key of Object.keys(totals) as (keyof PassStats)[]) totals[key] += stats[key];
          if (this.#now() - lastFlush >= 15_000) {
            this.#metrics.flush();
            lastFlush = this.#now();
          }
          if (stats.claimed > 0) continue;
          const target = await this.#sleepTarget(until);
          await this.#waker.sleepUntil(target, this.#now);
        } catch (error) {
          this.#logger.error('tick pass failed; retrying', { error: (error as Error).message });
          await this.#waker.sleepUntil(Math.min(until, this.#now() + 200), this.#now);
        }
      }
    } finally {
      await releaseLeaderLease(this.#o.engine, this.ownerId).catch(() => undefined);
      await this.#waker.stop();
      this.#waker = undefined;
      this.#metrics.flush();
    }
    return { passes, totals, led };
  }

  /** Ends the current sleep early (e.g. the local publisher has capacity again). */
  wake(): void {
    this.#waker?.wake();
  }

  /** Makes `run` return after the current pass. */
  stop(): void {
    this.#stopped = true;
    this.#waker?.wake();
  }
}
