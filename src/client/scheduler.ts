/**
 * The producer API: schedule, upsert by key, cancel, inspect. Other Lambdas use it through
 * `Scheduler.fromEnv()`; local code passes a URL or an ioredis client.
 */
import { Engine } from '../core/engine.js';
import { shardOf } from '../core/ids.js';
import { getJob, getStats, type JobInfo, type Stats } from '../core/inspect.js';
import { isValidHandlerName } from '../core/keys.js';
import { validateParkAfterMs } from '../core/parking.js';
import {
  isWellFormedText,
  type PrepareContext,
  type PreparedJob,
  prepareJob,
  type ScheduleOptions,
} from '../core/prepare.js';
import {
  cancelJob,
  checkDeadSelector,
  type DeadResult,
  type DeadSelector,
  pauseHandler,
  purgeDeadJobs,
  replayDeadJobs,
  resumeHandler,
} from '../core/store/admin.js';
import { ValidationError } from '../errors.js';
import {
  type ConnectOptions,
  connect,
  endpointOf,
  lastConnectionError,
  type RedisClient,
  usesTls,
} from '../redis/connection.js';
import { toStoreError } from '../redis/errors.js';
import { connectStoreFromEnv } from '../runtime/from-env.js';
import { ScheduleCoalescer } from './schedule-coalescer.js';

export interface SchedulerOptions {
  /** A `redis://` / `rediss://` URL, or an ioredis client (single node or Cluster) that you own. */
  readonly redis: string | RedisClient;
  /** Connection options when `redis` is a URL. @default - single node, TLS for rediss:// */
  readonly connection?: ConnectOptions;
  /** Hash-tag prefix of every key; namespaces on one Redis are isolated. @default 'tickset' */
  readonly namespace?: string;
  /** Number of shards (hash tags) to spread jobs over; must match the tick's. @default 1 */
  readonly shards?: number;
  /** Known handler names; when given, any other name is rejected. @default - any valid name */
  readonly handlers?: readonly string[];
  /** Largest serialized payload in bytes (an EventBridge entry is at most 256 KB with its envelope). @default 204800 */
  readonly maxPayloadBytes?: number;
  /**
   * Coalesce `schedule()` calls made in the same event-loop turn into one Lua call per shard (each call still
   * gets its own result or error, as if the calls ran one after another). `false` sends one call per job.
   * @default true
   */
  readonly coalesce?: boolean;
  /**
   * One-off jobs due at least this far ahead (ms) are parked: they wait in a compact per-slot list instead
   * of the sorted set (about 95 fewer bytes of Redis memory each) until the tick moves them shortly before
   * they are due. At least 180000; `Infinity` never parks. See ARCHITECTURE.md, "Parking".
   * @default 600000
   */
  readonly parkAfterMs?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

export interface ScheduleResult {
  readonly id: string;
  /** When it is due (for a series, the first occurrence). */
  readonly runAt: Date;
  /** Revision of the job: 0 for a new job, a new one on every reschedule of its key (upsert) and replay. */
  readonly revision: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 200 * 1024;

export class Scheduler {
  /** The engine under this scheduler (for the tick, the CLI and advanced use). */
  readonly engine: Engine;
  #ownsClient: boolean;
  readonly #now: () => number;
  readonly #maxPayloadBytes: number;
  readonly #knownHandlers: ReadonlySet<string> | undefined;
  readonly #parkAfterMs: number;
  readonly #coalescer: ScheduleCoalescer | undefined;

  constructor(options: SchedulerOptions) {
    const redis =
      typeof options.redis === 'string' ? connect(options.redis, options.connection) : options.redis;
    this.#ownsClient = typeof options.redis === 'string';
    this.engine = new Engine(redis, {
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      ...(options.shards !== undefined ? { shards: options.shards } : {}),
    });
    this.#now = options.now ?? Date.now;
    const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1) {
      throw new ValidationError('maxPayloadBytes', maxPayloadBytes, 'a positive integer number of bytes');
    }
    this.#maxPayloadBytes = maxPayloadBytes;
    this.#knownHandlers = options.handlers ? new Set(options.handlers) : undefined;
    this.#parkAfterMs = validateParkAfterMs(options.parkAfterMs);
    this.#coalescer =
      options.coalesce === false
        ? undefined
        : new ScheduleCoalescer((jobs) => this.#guard(this.#write(jobs)));
  }

  /**
   * Builds a scheduler from the Lambda environment: TICKSET_REDIS_URL, TICKSET_REDIS_CLUSTER, TICKSET_REDIS_TLS,
   * TICKSET_REDIS_USERNAME, TICKSET_REDIS_AUTH_SECRET_ARN (read from Secrets Manager at cold start),
   * TICKSET_NAMESPACE, TICKSET_SHARDS, TICKSET_HANDLERS, TICKSET_PARK_AFTER_MS.
   */
  static async fromEnv(
    env: NodeJS.ProcessEnv = process.env,
    overrides: Partial<Omit<SchedulerOptions, 'redis'>> = {},
  ): Promise<Scheduler> {
    // The config is checked before connecting, so a bad value leaves no connection behind.
    const { redis, config } = await connectStoreFromEnv(env);
    const scheduler = new Scheduler({ redis, ...config, ...overrides });
    scheduler.#ownsClient = true;
    return scheduler;
  }

  /**
   * Schedules one job (or upserts the job with the same `key`). Validation errors are thrown before anything
   * is sent. Calls made in the same event-loop turn share one round trip (see `coalesce`).
   */
  schedule(options: ScheduleOptions): Promise<ScheduleResult> {
    // Not `async`: the coalescer's promise is returned as is (an async wrapper adds a promise and two
    // microtask hops per call; the coalescer's writes are guarded once per batch). A validation error is
    // still a rejection, never a synchronous throw.
    let job: PreparedJob;
    try {
      job = prepareJob(options, this.#context(), 'options');
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#coalescer) return this.#coalescer.add(job);
    return this.#guard(this.#write([job])).then((results) => results[0]!);
  }

  /**
   * Schedules many jobs in one round trip per shard. Every job is validated before anything is written.
   * Atomic per shard (one Lua script each), not across shards.
   */
  async scheduleMany(options: readonly ScheduleOptions[]): Promise<ScheduleResult[]> {
    if (!Array.isArray(options)) throw new ValidationError('jobs', options, 'an array of schedule options');
    const context = this.#context();
    const prepared: PreparedJob[] = new Array(options.length);
    for (let i = 0; i < options.length; i++) prepared[i] = prepareJob(options[i], context, `jobs[${i}]`);
    return this.#guard(this.#write(prepared));
  }

  /** The job with this id (or key), or undefined. */
  async get(idOrKey: string): Promise<JobInfo | undefined> {
    this.#checkRef(idOrKey);
    return this.#guard(getJob(this.engine, idOrKey, this.#now()));
  }

  /**
   * Cancels the job with this id (or key), wherever it is (queued, in flight or dead). Once this returns
   * true, no handler starts for it (start fencing); a handler already running is not stopped.
   */
  async cancel(idOrKey: string): Promise<boolean> {
    this.#checkRef(idOrKey);
    return this.#guard(cancelJob(this.engine, idOrKey));
  }

  /**
   * Pauses a handler: the tick claims none of its tasks (they wait due, nothing fails) until `resume`.
   * Returns true when it changed (false: already paused).
   */
  async pause(handler: string): Promise<boolean> {
    this.#checkHandler(handler);
    return this.#guard(pauseHandler(this.engine, handler));
  }

  /** Resumes a paused handler; true when it changed (false: it was not paused). */
  async resume(handler: string): Promise<boolean> {
    this.#checkHandler(handler);
    return this.#guard(resumeHandler(this.engine, handler));
  }

  /**
   * Replays dead jobs (`{ id }`, `{ key }`, `{ handler, olderThanMs? }` or `{ all: true, olderThanMs? }`):
   * each is due now, attempts reset, with a new idempotency key. Throws `ValidationError` for a bad selector.
   */
  async replayDead(selector: DeadSelector): Promise<DeadResult> {
    checkDeadSelector(selector);
    return this.#guard(replayDeadJobs(this.engine, selector, this.#now()));
  }

  /** Deletes dead jobs for good; the same selectors as `replayDead`. */
  async purgeDead(selector: DeadSelector): Promise<DeadResult> {
    checkDeadSelector(selector);
    return this.#guard(purgeDeadJobs(this.engine, selector, this.#now()));
  }

  #checkHandler(handler: string): void {
    if (typeof handler !== 'string' || !isValidHandlerName(handler))
      throw new ValidationError(
        'handler',
        handler,
        'a handler name matching [A-Za-z0-9][A-Za-z0-9_.-]{0,63}',
      );
  }

  /** Counts across all shards: scheduled (not yet due), due (not claimed), inflight, dead, oldest due age. */
  async stats(): Promise<Stats> {
    return this.#guard(getStats(this.engine, this.#now()));
  }

  /** Closes the connection if this scheduler opened it. */
  async close(): Promise<void> {
    if (this.#ownsClient) await this.engine.redis.quit().catch(() => undefined);
  }

  /**
   * Redis failures leave the API as typed errors: StoreUnavailableError (retryable) when Redis cannot be
   * reached or will not serve now, ConfigurationError when it refuses the credentials.
   */
  async #guard<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      const redis = this.engine.redis;
      throw toStoreError(error, endpointOf(redis), lastConnectionError(redis), usesTls(redis));
    }
  }

  #checkRef(idOrKey: string): void {
    if (
      typeof idOrKey !== 'string' ||
      idOrKey.length === 0 ||
      idOrKey.length > 1024 ||
      !isWellFormedText(idOrKey)
    ) {
      throw new ValidationError(
        'idOrKey',
        idOrKey,
        'a non-empty job id or key of at most 1024 characters of well-formed Unicode',
      );
    }
  }

  #context(): PrepareContext {
    const now = this.#now();
    const parkAfterMs = this.#parkAfterMs;
    return this.#knownHandlers
      ? { now, maxPayloadBytes: this.#maxPayloadBytes, knownHandlers: this.#knownHandlers, parkAfterMs }
      : { now, maxPayloadBytes: this.#maxPayloadBytes, parkAfterMs };
  }

  async #write(jobs: readonly PreparedJob[]): Promise<ScheduleResult[]> {
    if (this.engine.shards === 1) {
      // One shard (the default): one call, no grouping.
      const reply = await this.engine.scheduleBatch(0, jobs);
      const results: ScheduleResult[] = new Array(jobs.length);
      for (let i = 0; i < jobs.length; i++) {
        const r = reply.results[i]!;
        results[i] = { id: r.id, runAt: new Date(jobs[i]!.runAt), revision: r.revision };
      }
      if (reply.wake) await this.engine.redis.publish(this.engine.global.wakeChannel, '1');
      return results;
    }
    const byShard = new Map<number, number[]>();
    jobs.forEach((job, index) => {
      const shard = shardOf(job.routingKey, this.engine.shards);
      const list = byShard.get(shard);
      if (list) list.push(index);
      else byShard.set(shard, [index]);
    });
    const results: ScheduleResult[] = new Array(jobs.length);
    let wake = false;
    await Promise.all(
      [...byShard].map(async ([shard, indexes]) => {
        const reply = await this.engine.scheduleBatch(
          shard,
          indexes.map((i) => jobs[i]!),
        );
        wake ||= reply.wake;
        reply.results.forEach((r, n) => {
          const job = jobs[indexes[n]!]!;
          results[indexes[n]!] = { id: r.id, runAt: new Date(job.runAt), revision: r.revision };
        });
      }),
    );
    if (wake) await this.engine.redis.publish(this.engine.global.wakeChannel, '1');
    return results;
  }
}
