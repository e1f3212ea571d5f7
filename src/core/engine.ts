/**
 * The engine: every state transition of a job, each one Lua script on one shard (see ARCHITECTURE.md for
 * the state machine). The producer (`Scheduler`), the tick loop, the handler wrapper and the CLI all go
 * through here. `now` is always passed in, so tests control time.
 */
import { randomBytes } from 'node:crypto';
import { IdCollisionError, KeyHandlerConflictError, ValidationError } from '../errors.js';
import type { RedisClient } from '../redis/connection.js';
import {
  type DecodedJob,
  decodeBody,
  handlerCodeOf,
  idempotencyKeyOf,
  inflightAttempt,
  parsePayload,
} from './codec.js';
import { JOB_ID_LENGTH, newJobId, newJobIdInShard, skipIdCounter } from './ids.js';
import {
  type GlobalKeys,
  globalKeys,
  isValidNamespace,
  type ShardKeys,
  STORED_FORMAT_VERSION,
  shardKeys,
} from './keys.js';
import { MOVE_AHEAD_MS, parseParkSlot } from './parking.js';
import type { PreparedJob } from './prepare.js';
import { runScript } from './script.js';
import { LUA } from './scripts.generated.js';
import { RateLimiter, type RateReservation } from './store/rate-limit.js';
import { backoffDelayMs, nextCronOccurrence } from './timing.js';
import { TASK_EVENT_VERSION, type TaskEventDetail } from './types.js';

/** Per-handler limits, to honour third-party quotas. */
export interface HandlerLimits {
  /**
   * Most claims of the handler in any sliding 1-second window, over all shards together, timed by Redis
   * `TIME` (a sliding log, `store/rate-limit.ts`; ARCHITECTURE.md "Sharding and limits"). @default - unlimited
   */
  readonly perSecond?: number;
  /**
   * Most tasks claimed and not yet acknowledged at once, per shard (each shard's in-flight set is
   * counted on its own: with `shards: n` up to n × maxInFlight). @default - unlimited
   */
  readonly maxInFlight?: number;
}

export interface EngineOptions {
  /** Hash-tag prefix of every key. @default 'tickset' */
  readonly namespace?: string;
  /** Number of shards (hash tags) jobs are spread over. @default 1 */
  readonly shards?: number;
  /** Milliseconds of waiting that one unit of priority is worth (the aging rule). @default 1000 */
  readonly agingStepMs?: number;
}

/** What a claim needs to know about one handler. */
export interface ClaimSpec {
  readonly handler: string;
  /** Most tasks to claim for this handler in this call. */
  readonly limit: number;
  readonly leaseMs: number;
  readonly limits?: HandlerLimits;
}

/** Claimed tasks as event details, and how many jobs were found expired (moved to dead). */
export interface ClaimResult {
  readonly tasks: TaskEventDetail[];
  /** Due time of each task (epoch ms), in the order of `tasks`. */
  readonly dueAt: number[];
  readonly expired: number;
  /** Redis `TIME` of the claim (ms), read when a rate-limited handler was claimed for; else -1. */
  readonly claimedAt: number;
  /**
   * Recurring series that ended in this claim (completed): their last occurrence was claimed, or they were
   * claimed after their `expiresAt` (that pending occurrence does not run; not dead, reason series-expired).
   */
  readonly seriesEnded: number;
}

/** What decoding a claim reply needs besides the reply. */
export interface ClaimContext {
  readonly namespace: string;
  readonly shard: number;
  readonly now: number;
  readonly tokenPrefix: string;
  readonly leaseByHandler: Map<string, number>;
  /** Handler code → name for the format-2 bodies in the reply (see `Engine.claimRaw`). */
  readonly handlerNames: Map<string, string>;
}

/** A claim script's reply, not yet decoded. */
export interface RawClaim {
  readonly context: ClaimContext;
  /** `{ expired, claimed at (Redis ms or -1), series ended, id, body, attempt, ... }`, see claim.lua. */
  readonly reply: ReadonlyArray<string | number>;
  /** Settles the claim's rate-limit reservations (never rejects: an unsettled one is safe, see rate-settle.lua). */
  readonly settled: Promise<void>;
  /**
   * When a rate limit granted less than was wanted: how long after the reservation (ms, Redis clock) the
   * busiest handler's window frees. The tick wakes no later than that.
   */
  readonly rateRetryInMs?: number;
}

/** Where the tasks start in a claim reply: after `expired`, `claimed at` and `series ended`. */
const CLAIM_REPLY_HEAD = 3;

/** Tasks in a raw claim reply: known before decoding it. */
export function claimedCount(raw: RawClaim): number {
  return (raw.reply.length - CLAIM_REPLY_HEAD) / 3;
}

/** Decodes a claim reply into event details. */
export function decodeClaim(raw: RawClaim): ClaimResult {
  const { reply, context } = raw;
  const { namespace, shard, now, tokenPrefix, leaseByHandler, handlerNames } = context;
  const nameOf = (code: string) => handlerNames.get(code);
  const tasks: TaskEventDetail[] = [];
  const dueAt: number[] = [];
  let lastDue = Number.NaN;
  let lastIso = '';
  // Per handler: its lease deadline and the start of its claim tokens, "<deadline>.<prefix>.<id>" (claim.lua).
  const leases = new Map<string, { until: number; tokenHead: string }>();
  const leaseOf = (handler: string) => {
    let lease = leases.get(handler);
    if (!lease) {
      const until = Math.trunc(now + (leaseByHandler.get(handler) ?? 0));
      lease = { until, tokenHead: `${until}.${tokenPrefix}.` };
      leases.set(handler, lease);
    }
    return lease;
  };
  for (let i = CLAIM_REPLY_HEAD; i < reply.length; i += 3) {
    const id = String(reply[i]);
    const { header, payloadJson } = decodeBody(id, String(reply[i + 1]), nameOf);
    const due = header.o ?? header.r ?? now;
    // A backlog's jobs often share their due time: format each distinct one once.
    if (due !== lastDue) {
      lastDue = due;
      lastIso = new Date(due).toISOString();
    }
    dueAt.push(due);
    const lease = leaseOf(header.h);
    tasks.push({
      v: TASK_EVENT_VERSION,
      id,
      handler: header.h,
      payload: parsePayload(payloadJson),
      attempt: Number(reply[i + 2]),
      idempotencyKey: idempotencyKeyOf(id, header),
      scheduledFor: lastIso,
      claimToken: lease.tokenHead + id,
      namespace,
      shard,
      leaseUntil: lease.until,
    });
  }
  return {
    tasks,
    dueAt,
    expired: Number(reply[0]),
    claimedAt: Number(reply[1]),
    seriesEnded: Number(reply[2]),
  };
}

/** Identifies one claim of a task: enough to ack, fail or release it. */
export type TaskRef = Pick<TaskEventDetail, 'id' | 'handler' | 'shard' | 'claimToken'>;

export type AckOutcome = 'acked' | 'stale' | 'missing';
/** What `beginExecutions` found for one idempotency record. */
export type BeginOutcome =
  | { readonly status: 'started' }
  | { readonly status: 'running' }
  | { readonly status: 'completed'; readonly record: string }
  | { readonly status: 'stale'; readonly reason: StaleStartReason };
/**
 * Why a delivery was not started (start fencing, idempotency-begin.lua): `cancelled` no job with its id
 * exists (cancelled, purged, or never scheduled; an acknowledged job whose COMPLETED record is still there
 * is a duplicate instead); `superseded` the job exists but the event's claim is not its live one (lease
 * expired and requeued or claimed again, attempt failed or released, upsert); `unknown` the event's token
 * is not a claim token of its id (a forged or corrupted event).
 */
export type StaleStartReason = 'cancelled' | 'superseded' | 'unknown';
const STALE_START_REASONS: Record<number, StaleStartReason> = {
  [-1]: 'cancelled',
  [-2]: 'superseded',
  [-3]: 'unknown',
};
export interface FailOutcome {
  readonly outcome: 'retry' | 'dead' | 'stale' | 'missing';
  readonly attempt: number;
  readonly retryAt?: number;
}

const ERROR_TEXT_LIMIT = 2000;
/** Calls of `schedule.lua` with new ids before a batch whose new ids keep colliding fails. */
const ID_COLLISION_ATTEMPTS = 4;
/** Parking-list entries `advance-parked.lua` reads per call: ~4 ms of Redis time, like a claim call of 1,000. */
const ADVANCE_PARKED_BATCH = 1000;
/** Parking slots read from an index at a time. */
const SLOTS_PER_READ = 64;

/**
 * A plain job: new, no key, priority 0, no header extras (so its due time is the one in its id), a
 * 14-character id, and a payload without a raw newline (JSON.stringify writes none). `schedule.lua` takes
 * plain jobs packed into two arguments per batch; any other job as 7 arguments of its own.
 */
function isPlain(job: PreparedJob): boolean {
  return (
    job.key === '' &&
    job.priority === 0 &&
    job.extras === '' &&
    job.id.length === JOB_ID_LENGTH &&
    !job.payloadJson.includes('\n')
  );
}

/**
 * `schedule.lua`'s ARGV for a batch (layout in the script's header), and the batch indexes of the full jobs
 * in the order of the reply.
 *
 * Why packed: ioredis's cost is per argument (building the RESP command, ~25% of the producer's time went to
 * GC, much of it there), and Redis makes an object per argument too. Plain jobs (the common case) cost no
 * argument of their own: their ids are concatenated (fixed width, no separator needed) and their payloads
 * joined by newlines.
 */
function scheduleArgs(
  batch: readonly PreparedJob[],
  groups: ReadonlyMap<string, ScheduleGroup>,
): { args: Array<string | number>; full: number[] } {
  const groupCount = groups.size;
  const full: number[] = [];
  const fullArgs: Array<string | number> = [];
  let ids = '';
  let payloads = '';
  const counts: number[] = new Array(groupCount).fill(0);
  // Plain jobs are grouped by handler and slot; with one group (the common case) that is the batch order.
  let byGroup: Array<{ ids: string; payloads: string }> | undefined;
  for (let i = 0; i < batch.length; i++) {
    const j = batch[i]!;
    const g = groups.get(scheduleGroupKey(j))!.index;
    if (isPlain(j)) {
      counts[g - 1] = counts[g - 1]! + 1;
      if (groupCount === 1) {
        ids += j.id;
        payloads += `\n${j.payloadJson}`;
      } else {
        byGroup ??= Array.from({ length: groupCount }, () => ({ ids: '', payloads: '' }));
        const group = byGroup[g - 1]!;
        group.ids += j.id;
        group.payloads += `\n${j.payloadJson}`;
      }
    } else {
      full.push(i);
      fullArgs.push(j.id, g, j.runAt, j.key, j.priority, j.extras, j.payloadJson);
    }
  }
  if (byGroup) {
    for (const group of byGroup) {
      ids += group.ids;
      payloads += group.payloads;
    }
  }
  const args: Array<string | number> = [STORED_FORMAT_VERSION, groupCount];
  for (const group of groups.values()) args.push(group.handler);
  for (const c of counts) args.push(c);
  for (const group of groups.values()) args.push(group.slot);
  args.push(ids, payloads, full.length);
  for (const a of fullArgs) args.push(a);
  return { args, full };
}

/** Jobs of one handler going to one place: `delayed`, or one parking slot. */
interface ScheduleGroup {
  readonly index: number;
  readonly handler: string;
  /** The parking slot's name, or "" for `delayed`. */
  readonly slot: string;
}

function scheduleGroupKey(job: PreparedJob): string {
  return job.park ? `${job.handler}#${job.park.name}` : job.handler;
}

export class Engine {
  readonly namespace: string;
  readonly shards: number;
  readonly agingStepMs: number;
  readonly global: GlobalKeys;
  #rateLimiter: RateLimiter | undefined;
  readonly redis: RedisClient;
  readonly #shardKeys: ShardKeys[];

  constructor(redis: RedisClient, options: EngineOptions = {}) {
    const namespace = options.namespace ?? 'tickset';
    if (!isValidNamespace(namespace)) {
      throw new ValidationError(
        'namespace',
        namespace,
        'letters, digits, "_", "." or "-", at most 64 characters',
      );
    }
    const shards = options.shards ?? 1;
    if (!Number.isInteger(shards) || shards < 1 || shards > 1024) {
      throw new ValidationError('shards', shards, 'an integer from 1 to 1024');
    }
    this.redis = redis;
    this.namespace = namespace;
    this.shards = shards;
    this.agingStepMs = options.agingStepMs ?? 1000;
    this.global = globalKeys(namespace);
    this.#shardKeys = Array.from({ length: shards }, (_, s) => shardKeys(namespace, s));
  }

  keys(shard: number): ShardKeys {
    const keys = this.#shardKeys[shard];
    if (!keys) throw new ValidationError('shard', shard, `a shard from 0 to ${this.shards - 1}`);
    return keys;
  }

  /**
   * Writes a batch of prepared jobs into one shard, atomically. Returns ids and whether a queue head moved.
   * New ids that are already jobs in the shard (another process made the same id, see `ids.ts`) are
   * replaced and the call retried: nothing is written until every new id is free.
   */
  async scheduleBatch(
    shard: number,
    jobs: readonly PreparedJob[],
  ): Promise<{ wake: boolean; results: Array<{ id: string; revision: number }> }> {
    const k = this.keys(shard);
    const groups = new Map<string, ScheduleGroup>();
    const keys = [
      k.jobs,
      k.keys,
      k.prio,
      k.state,
      k.handlers,
      k.seq,
      k.dead,
      k.arm,
      k.meta,
      k.handlerCodes,
      k.handlerNames,
      k.parkedCount,
    ];
    for (const j of jobs) {
      const groupKey = scheduleGroupKey(j);
      if (!groups.has(groupKey)) {
        const slot = j.park?.name ?? '';
        groups.set(groupKey, { index: groups.size + 1, handler: j.handler, slot });
        keys.push(
          k.delayed(j.handler),
          k.ready(j.handler),
          k.inflight(j.handler),
          k.parked(j.handler),
          slot === '' ? k.delayed(j.handler) : k.parkedSlot(j.handler, slot),
        );
      }
    }
    let batch = jobs;
    let reply: Array<string | number>;
    let full: number[];
    for (let attempt = 1; ; attempt++) {
      const built = scheduleArgs(batch, groups);
      full = built.full;
      try {
        reply = await runScript<Array<string | number>>(this.redis, LUA.schedule, keys, built.args);
        break;
      } catch (error) {
        const message = (error as Error).message;
        const conflict = /TICKSET_KEY_HANDLER_CONFLICT (.*)\|([^|]*)\|([^|]*)$/.exec(message);
        if (conflict) throw new KeyHandlerConflictError(conflict[1]!, conflict[2]!, conflict[3]!);
        const collision = /TICKSET_ID_COLLISION ([0-9A-Za-z ]+)/.exec(message);
        if (!collision) throw error;
        const taken = new Set(collision[1]!.trim().split(' '));
        if (attempt >= ID_COLLISION_ATTEMPTS) throw new IdCollisionError([...taken], attempt);
        skipIdCounter();
        batch = batch.map((j) => (taken.has(j.id) ? this.#withNewId(j, shard) : j));
      }
    }
    // Plain jobs are new: their id is the one sent, revision 0. The reply holds the full jobs' ids and revisions.
    const results: Array<{ id: string; revision: number }> = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) results[i] = { id: batch[i]!.id, revision: 0 };
    for (let f = 0, r = 1; f < full.length; f++, r += 2)
      results[full[f]!] = { id: String(reply[r]), revision: Number(reply[r + 1]) };
    return { wake: reply[0] === 1, results };
  }

  /** The job with another new id, due at the same time and routed to the same shard. */
  #withNewId(job: PreparedJob, shard: number): PreparedJob {
    if (job.key !== '') return { ...job, id: newJobId(job.runAt) };
    const id = newJobIdInShard(job.runAt, shard, this.shards);
    return { ...job, id, routingKey: id };
  }

  /**
   * Decodes bodies of one shard, resolving format-2 handler codes with one read of the shard's registry.
   * Not cached across calls: a registry lost with its data (a Redis restart without persistence) is rebuilt
   * in another order, so a cached code could name another handler.
   */
  async decodeJobs(
    shard: number,
    entries: ReadonlyArray<readonly [id: string, body: string]>,
  ): Promise<DecodedJob[]> {
    const names = new Map<string, string>();
    const missing = new Set<string>();
    for (const [, body] of entries) {
      const code = handlerCodeOf(body);
      if (code !== undefined && !names.has(code)) missing.add(code);
    }
    if (missing.size > 0)
      for (const [code, name] of await this.handlerNames(shard, [...missing])) names.set(code, name);
    return entries.map(([id, body]) => decodeBody(id, body, (code) => names.get(code)));
  }

  /** Handler names of format-2 handler codes in a shard's registry (codes it does not know are left out). */
  async handlerNames(shard: number, codes: readonly string[]): Promise<Map<string, string>> {
    const found = await this.redis.hmget(this.keys(shard).handlerNames, ...codes);
    const names = new Map<string, string>();
    codes.forEach((code, i) => {
      const name = found[i];
      if (name !== null && name !== undefined) names.set(code, name);
    });
    return names;
  }

  /** Decodes one body of a shard (see `decodeJobs`). */
  async decodeJob(shard: number, id: string, body: string): Promise<DecodedJob> {
    return (await this.decodeJobs(shard, [[id, body]]))[0]!;
  }

  /** Handler names that have jobs in a shard. */
  async handlersOf(shard: number): Promise<string[]> {
    return (await this.redis.smembers(this.keys(shard).handlers)).sort();
  }

  /** Moves due jobs of the given handlers into their ready queues. */
  async promote(shard: number, handlers: readonly string[], now: number, limit: number): Promise<number> {
    if (handlers.length === 0) return 0;
    const k = this.keys(shard);
    const keys = [k.prio];
    for (const h of handlers) keys.push(k.delayed(h), k.ready(h));
    return Number(await runScript(this.redis, LUA.promote, keys, [now, limit, this.agingStepMs]));
  }

  /**
   * Promotes the due jobs of the specs' handlers (at most `promoteLimit` per handler, default the larger
   * of 1000 and the largest spec limit), then claims ready jobs into in-flight and returns them as event
   * details, in one script call. A spec with `limit: 0` only promotes.
   */
  async claim(
    shard: number,
    specs: readonly ClaimSpec[],
    now: number,
    options: { readonly promoteLimit?: number } = {},
  ): Promise<ClaimResult> {
    const raw = await this.claimRaw(shard, specs, now, options);
    await raw.settled;
    return decodeClaim(raw);
  }

  /**
   * The script call of {@link claim}, without decoding the reply: the tick sends the next claim before it
   * decodes this one (see `TickLoop.pass`). Decode with {@link decodeClaim}.
   */
  async claimRaw(
    shard: number,
    specs: readonly ClaimSpec[],
    now: number,
    options: { readonly promoteLimit?: number } = {},
  ): Promise<RawClaim> {
    const context: ClaimContext = {
      namespace: this.namespace,
      shard,
      now,
      tokenPrefix: randomBytes(9).toString('base64url'),
      leaseByHandler: new Map(),
      handlerNames: new Map(),
    };
    if (specs.length === 0) return { context, reply: [0, -1, 0], settled: Promise.resolve() };
    const k = this.keys(shard);
    const reservations = await this.#reserveRates(specs);
    const keys = [k.jobs, k.state, k.dead, k.arm, k.keys, k.prio];
    let promoteLimit = options.promoteLimit ?? 1000;
    if (options.promoteLimit === undefined)
      for (const spec of specs) promoteLimit = Math.max(promoteLimit, spec.limit);
    const args: Array<string | number> = [now, context.tokenPrefix, this.agingStepMs, promoteLimit];
    for (const spec of specs) {
      keys.push(k.delayed(spec.handler), k.ready(spec.handler), k.inflight(spec.handler));
      const reservation = reservations.get(spec.handler);
      args.push(
        spec.handler,
        reservation ? reservation.granted : spec.limit,
        reservation && reservation.granted > 0 ? reservation.deadline : -1,
        spec.limits?.maxInFlight ?? -1,
        spec.leaseMs,
      );
      context.leaseByHandler.set(spec.handler, spec.leaseMs);
    }
    // The codes of the claimed handlers, read on the same connection just before the claim (no round trip
    // of its own): a claimed body's code was assigned before its job was written.
    const [codes, reply] = await Promise.all([
      this.redis.hmget(k.handlerCodes, ...specs.map((spec) => spec.handler)),
      runScript<Array<string | number>>(this.redis, LUA.claim, keys, args),
    ]);
    codes.forEach((code, i) => {
      if (code !== null && code !== undefined) context.handlerNames.set(code, specs[i]!.handler);
    });
    // Any other code (not expected: a body in a handler's queue has that handler's code) is read from the
    // shard's registry, so that decodeClaim needs no I/O.
    const unknown = new Set<string>();
    for (let i = CLAIM_REPLY_HEAD; i < reply.length; i += 3) {
      const code = handlerCodeOf(String(reply[i + 1]));
      if (code !== undefined && !context.handlerNames.has(code)) unknown.add(code);
    }
    if (unknown.size > 0)
      for (const [code, name] of await this.handlerNames(shard, [...unknown]))
        context.handlerNames.set(code, name);
    if (reservations.size === 0) return { context, reply, settled: Promise.resolve() };
    return { context, reply, ...this.#settleRates(reservations, context, reply) };
  }

  /** The rate limiter of this namespace (created on first use). */
  get rateLimiter(): RateLimiter {
    this.#rateLimiter ??= new RateLimiter(this.redis, this.global);
    return this.#rateLimiter;
  }

  /**
   * Reserves the claims of each rate-limited spec over all shards (one `rate-reserve.lua` call per handler,
   * sent together): at most `min(limit, perSecond)`; the claim takes what was granted, before its deadline.
   */
  async #reserveRates(specs: readonly ClaimSpec[]): Promise<Map<string, RateReservation>> {
    const reservations = new Map<string, RateReservation>();
    const limited = specs.filter((s) => s.limits?.perSecond !== undefined && s.limit > 0);
    if (limited.length === 0) return reservations;
    const granted = await Promise.all(
      limited.map((s) =>
        this.rateLimiter.reserve(s.handler, s.limits!.perSecond!, Math.min(s.limit, s.limits!.perSecond!)),
      ),
    );
    for (const r of granted) reservations.set(r.handler, r);
    return reservations;
  }

  /**
   * Settles each reservation with the jobs its handler claimed, at the claim's Redis time (the reply's
   * second element); and, when a limit held a handler back, how long until its window frees.
   */
  #settleRates(
    reservations: ReadonlyMap<string, RateReservation>,
    context: ClaimContext,
    reply: ReadonlyArray<string | number>,
  ): { settled: Promise<void>; rateRetryInMs?: number } {
    const claimedAt = Number(reply[1]);
    const counts = new Map<string, number>();
    for (let i = CLAIM_REPLY_HEAD; i < reply.length; i += 3) {
      const code = handlerCodeOf(String(reply[i + 1]));
      // A format-1 body carries its handler's name: count it by decoding its header.
      const handler =
        code !== undefined
          ? context.handlerNames.get(code)
          : decodeBody(String(reply[i]), String(reply[i + 1]), () => undefined).header.h;
      if (handler !== undefined) counts.set(handler, (counts.get(handler) ?? 0) + 1);
    }
    let retryIn: number | undefined;
    const settling: Promise<void>[] = [];
    for (const r of reservations.values()) {
      if (r.retryAt > 0) retryIn = Math.min(retryIn ?? Number.POSITIVE_INFINITY, r.retryAt - r.at);
      if (r.member && claimedAt >= 0)
        settling.push(this.rateLimiter.settle(r, counts.get(r.handler) ?? 0, claimedAt));
    }
    // A settle that fails leaves its reservation counting conservatively until it ages out: safe.
    const settled = Promise.all(settling).then(
      () => undefined,
      () => undefined,
    );
    return retryIn === undefined ? { settled } : { settled, rateRetryInMs: retryIn };
  }

  /** Returns jobs whose lease expired to their ready queues (or to dead when attempts are used up). */
  async requeueExpired(
    shard: number,
    handlers: readonly string[],
    now: number,
    limit: number,
  ): Promise<{ requeued: number; dead: number }> {
    if (handlers.length === 0) return { requeued: 0, dead: 0 };
    const k = this.keys(shard);
    const keys = [k.jobs, k.state, k.dead, k.prio];
    for (const h of handlers) keys.push(k.inflight(h), k.ready(h));
    const [requeued, dead] = await runScript<[number, number]>(this.redis, LUA.requeueExpired, keys, [
      now,
      limit,
      this.agingStepMs,
    ]);
    return { requeued, dead };
  }

  /**
   * Moves every parking slot of these handlers that starts within `MOVE_AHEAD_MS` of `now` into their
   * delayed queues (`advance-parked.lua`, at most `limit` entries per call). Returns the jobs moved.
   */
  async advanceParked(
    shard: number,
    handlers: readonly string[],
    now: number,
    limit = ADVANCE_PARKED_BATCH,
  ): Promise<number> {
    const k = this.keys(shard);
    const horizon = now + MOVE_AHEAD_MS;
    let moved = 0;
    for (;;) {
      const due = await Promise.all(
        handlers.map((h) =>
          this.redis.zrangebyscore(k.parked(h), '-inf', horizon, 'LIMIT', 0, SLOTS_PER_READ),
        ),
      );
      for (let i = 0; i < handlers.length; i++) {
        const h = handlers[i]!;
        for (const name of due[i]!) {
          const slot = parseParkSlot(name);
          const keys = [
            k.parkedSlot(h, name),
            k.parked(h),
            k.jobs,
            k.delayed(h),
            k.ready(h),
            k.inflight(h),
            k.dead,
            k.parkedCount,
            k.handlerCodes,
          ];
          for (;;) {
            const [count, emptied] = await runScript<[number, number]>(this.redis, LUA.advanceParked, keys, [
              name,
              slot.start,
              slot.start + slot.width,
              h,
              limit,
            ]);
            moved += count;
            if (emptied === 1) break;
          }
        }
      }
      if (due.every((slots) => slots.length < SLOTS_PER_READ)) return moved;
    }
  }

  /** Completes a claim. A stale token (the lease expired and the job was claimed again) is rejected. */
  async ack(ref: TaskRef): Promise<AckOutcome> {
    const k = this.keys(ref.shard);
    const code = await runScript<number>(
      this.redis,
      LUA.ack,
      [k.jobs, k.state, k.keys, k.prio, k.inflight(ref.handler)],
      [ref.id, ref.claimToken],
    );
    return code === 1 ? 'acked' : code === -2 ? 'stale' : 'missing';
  }

  /**
   * Starts executions of tasks of one handler in one shard (`idempotency-begin.lua`), all in one call:
   * first the start fence (the task exists, is in flight, and `claimToken` is its live claim), then the
   * idempotency record "in progress", with the same `inProgress` value for the batch (it starts together).
   * Per task: `started`, `running` (another execution holds the record), the stored COMPLETED record, or
   * `stale` with its reason (nothing written: the function must not run).
   */
  async beginExecutions(
    shard: number,
    handler: string,
    tasks: ReadonlyArray<{ readonly id: string; readonly claimToken: string; readonly recordKey: string }>,
    inProgress: string,
    now: number,
    ttlSeconds: number,
  ): Promise<BeginOutcome[]> {
    const k = this.keys(shard);
    const keys = [k.jobs, k.state, k.inflight(handler)];
    const args: Array<string | number> = [now, ttlSeconds, inProgress];
    for (const t of tasks) {
      keys.push(t.recordKey);
      args.push(t.id);
    }
    for (const t of tasks) args.push(t.claimToken);
    const reply = await runScript<Array<number | string>>(this.redis, LUA.idempotencyBegin, keys, args);
    return reply.map((r): BeginOutcome => {
      if (r === 1) return { status: 'started' };
      if (r === 2) return { status: 'running' };
      if (typeof r === 'number') return { status: 'stale', reason: STALE_START_REASONS[r] ?? 'unknown' };
      return { status: 'completed', record: String(r) };
    });
  }

  /**
   * Records finished executions and acks their claims (`complete.lua`): one call for tasks of one handler
   * in one shard. Each ack is fenced by its own claim token. A task's record is `recordHead` (shared by
   * the batch) followed by its `recordTail`; a tail that starts with `{` is a whole record written as it
   * is, and `''` acks without writing a record.
   */
  async completeExecutions(
    shard: number,
    handler: string,
    tasks: ReadonlyArray<{
      readonly id: string;
      readonly claimToken: string;
      readonly recordKey: string;
      readonly recordTail: string;
    }>,
    recordHead: string,
    ttlSeconds: number,
  ): Promise<AckOutcome[]> {
    const k = this.keys(shard);
    const keys = [k.jobs, k.state, k.keys, k.prio, k.inflight(handler)];
    // ids, then tokens, then tails: complete.lua reads the ids and tokens in place.
    const n = tasks.length;
    const args: Array<string | number> = new Array(2 + 3 * n);
    args[0] = ttlSeconds;
    args[1] = recordHead;
    for (let i = 0; i < n; i++) {
      const t = tasks[i]!;
      keys.push(t.recordKey);
      args[2 + i] = t.id;
      args[2 + n + i] = t.claimToken;
      args[2 + 2 * n + i] = t.recordTail;
    }
    const reply = await runScript<number[]>(this.redis, LUA.complete, keys, args);
    return reply.map((code) => (code === 1 ? 'acked' : code === -2 ? 'stale' : 'missing'));
  }

  /** Records a failed attempt: retry after the job's backoff, or dead once its attempts are used up. */
  async fail(
    ref: TaskRef,
    error: { readonly reason?: string; readonly message: string },
    now: number,
    options: { readonly retry?: boolean } = {},
  ): Promise<FailOutcome> {
    const k = this.keys(ref.shard);
    const [body, rawState] = await Promise.all([
      this.redis.hget(k.jobs, ref.id),
      this.redis.hget(k.state, ref.id),
    ]);
    if (body === null) return { outcome: 'missing', attempt: 0 };
    // The ref came from a claim of this handler: no need to resolve the body's handler code.
    const { header } = decodeBody(ref.id, body, () => ref.handler);
    const attempt = inflightAttempt(rawState);
    const [kind, base, cap] = header.b ?? ['e', 1000, 300_000];
    const retryAt =
      options.retry === false
        ? -1
        : now + backoffDelayMs(kind === 'f' ? 'fixed' : 'exponential', base, cap, attempt);
    const message = error.message.replaceAll('\n', ' ').slice(0, ERROR_TEXT_LIMIT);
    const [code, recordedAttempt] = await runScript<[number, number]>(
      this.redis,
      LUA.fail,
      [k.jobs, k.state, k.dead, k.delayed(ref.handler), k.inflight(ref.handler)],
      [ref.id, ref.claimToken, now, retryAt, error.reason ?? 'error', message],
    );
    if (code === 1) return { outcome: 'retry', attempt: recordedAttempt, retryAt };
    if (code === 2) return { outcome: 'dead', attempt: recordedAttempt };
    return { outcome: code === -2 ? 'stale' : 'missing', attempt: recordedAttempt };
  }

  /** Hands a claim back without counting the attempt (publishing failed); due again at `retryAt`. */
  async release(ref: TaskRef, retryAt: number, why: string): Promise<boolean> {
    const k = this.keys(ref.shard);
    const code = await runScript<number>(
      this.redis,
      LUA.release,
      [k.state, k.delayed(ref.handler), k.inflight(ref.handler)],
      [ref.id, ref.claimToken, retryAt, why.replaceAll('\n', ' ').slice(0, ERROR_TEXT_LIMIT)],
    );
    return code === 1;
  }

  /**
   * Computes the next occurrences of cron series left in `arm` by claims (Lua cannot do time zones) and
   * writes them with a compare-and-set. Safe to run from any number of processes at once.
   */
  async armPending(shard: number, now: number): Promise<number> {
    const k = this.keys(shard);
    const ids = await this.redis.smembers(k.arm);
    let armed = 0;
    for (const id of ids) {
      const body = await this.redis.hget(k.jobs, id);
      if (body === null) {
        await this.redis.srem(k.arm, id);
        continue;
      }
      const { header } = await this.decodeJob(shard, id, body);
      if (header.c === undefined) {
        await this.redis.srem(k.arm, id);
        continue;
      }
      const spec = { expression: header.c, timezone: header.z ?? 'UTC' };
      let armAt: number | undefined;
      let next: number | undefined;
      if (header.r === undefined) {
        // Unarmed: the precomputed occurrence was missing or already past when it was claimed (an outage).
        // Go on from that claim (`a`), not from now: if this call comes late (a crash in between), the
        // occurrence missed meanwhile fires once, and the series is neither cut short nor caught up N times.
        armAt = nextCronOccurrence(spec, Math.max(header.l ?? 0, header.a ?? now));
        if (armAt !== undefined && header.x !== undefined && armAt > header.x) armAt = undefined;
        next = armAt === undefined ? undefined : nextCronOccurrence(spec, armAt);
      } else {
        next = nextCronOccurrence(spec, header.r);
      }
      const code = await runScript<number>(
        this.redis,
        LUA.armSeries,
        [k.jobs, k.arm, k.delayed(header.h), k.keys, k.prio],
        [id, header.v, header.r === undefined ? '' : header.r, armAt ?? '', next ?? ''],
      );
      if (code === 1) armed++;
    }
    return armed;
  }
}

/** What a shard needs next: see `next-wake.lua`. */
export interface ShardWake {
  readonly nextDueAt?: number;
  readonly readyBacklog: number;
  readonly nextLeaseExpiry?: number;
  readonly oldestDueAt?: number;
  readonly armPending: number;
}

export async function shardWake(
  engine: Engine,
  shard: number,
  handlers: readonly string[],
  now: number,
): Promise<ShardWake> {
  const k = engine.keys(shard);
  const keys = [k.arm, k.prio];
  for (const h of handlers) keys.push(k.delayed(h), k.ready(h), k.inflight(h));
  const [nextDue, ready, nextLease, oldest, arm] = await runScript<number[]>(
    engine.redis,
    LUA.nextWake,
    keys,
    [now, engine.agingStepMs],
  );
  return {
    ...(nextDue! >= 0 ? { nextDueAt: nextDue } : {}),
    readyBacklog: ready!,
    ...(nextLease! >= 0 ? { nextLeaseExpiry: nextLease } : {}),
    ...(oldest! >= 0 ? { oldestDueAt: oldest } : {}),
    armPending: arm!,
  };
}
