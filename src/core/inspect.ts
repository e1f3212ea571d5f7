/**
 * The read side (queries only, no writes): find a job by id or key, its state, counts per handler, listing,
 * the pause switches and the tick heartbeat. Used by `Scheduler`, the tick (paused handlers) and the CLI.
 * The operator's writes (cancel, dead-set replay and purge, pause) are in `store/admin.ts`.
 */
import {
  DEFAULT_MAX_ATTEMPTS,
  idempotencyKeyOf,
  inflightAttempt,
  parsePayload,
  parseState,
} from './codec.js';
import type { Engine } from './engine.js';
import { seriesIdOf, shardOf } from './ids.js';
import type { ShardKeys } from './keys.js';
import type { JsonValue } from './types.js';

const PARKED_SLOT_PAGE = 64;
const PARKED_ENTRY_PAGE = 1000;

function isOneOff(header: { readonly c?: string; readonly e?: number; readonly s?: string }): boolean {
  return header.c === undefined && header.e === undefined && header.s === undefined;
}

export type JobState = 'scheduled' | 'due' | 'inflight' | 'dead' | 'arming';

/** A job as `get` and `list` show it. */
export interface JobInfo {
  readonly id: string;
  readonly handler: string;
  readonly state: JobState;
  /** When it is (or was) due; absent while a cron series is being armed. */
  readonly runAt?: Date;
  readonly payload: JsonValue;
  readonly key?: string;
  /** Attempts made so far for the pending occurrence. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly revision: number;
  readonly idempotencyKey: string;
  readonly cron?: string;
  readonly timezone?: string;
  readonly everyMs?: number;
  readonly expiresAt?: Date;
  /** True while a one-off job due far ahead waits in a parking slot (ARCHITECTURE.md, "Parking"). */
  readonly parked?: boolean;
  /** Lease deadline while in flight. */
  readonly leaseUntil?: Date;
  /** When it moved to the dead set. */
  readonly failedAt?: Date;
  /** Why the last attempt failed or why it is dead (`error`, `timeout`, `expired`, `lease-expired`, ...). */
  readonly lastReason?: string;
  readonly lastError?: string;
  readonly shard: number;
}

export interface HandlerStats {
  /** Not due yet, parked jobs included. */
  readonly scheduled: number;
  /** Of `scheduled`, the parked ones (one-off jobs due far ahead, ARCHITECTURE.md "Parking"). */
  readonly parked: number;
  readonly due: number;
  readonly inflight: number;
  readonly dead: number;
  readonly oldestDueAgeMs: number;
  readonly paused: boolean;
}

/** Counts across all shards. `scheduled` is not yet due; `due` is due but not yet claimed. */
export interface Stats {
  /** Not due yet, parked jobs included. */
  readonly scheduled: number;
  /** Of `scheduled`, the parked ones. */
  readonly parked: number;
  readonly due: number;
  readonly inflight: number;
  readonly dead: number;
  readonly oldestDueAgeMs: number;
  readonly byHandler: Readonly<Record<string, HandlerStats>>;
}

/** Where the job with this id (or key) is: its shard, id and body, or undefined. */
export async function locate(
  engine: Engine,
  idOrKey: string,
): Promise<{ shard: number; id: string; body: string } | undefined> {
  const candidates = [shardOf(seriesIdOf(idOrKey), engine.shards)];
  for (let s = 0; s < engine.shards; s++) if (s !== candidates[0]) candidates.push(s);
  for (const shard of candidates) {
    const body = await engine.redis.hget(engine.keys(shard).jobs, idOrKey);
    if (body !== null) return { shard, id: idOrKey, body };
  }
  const keyShard = shardOf(idOrKey, engine.shards);
  const id = await engine.redis.hget(engine.keys(keyShard).keys, idOrKey);
  if (id === null) return undefined;
  const body = await engine.redis.hget(engine.keys(keyShard).jobs, id);
  return body === null ? undefined : { shard: keyShard, id, body };
}

export async function getJob(engine: Engine, idOrKey: string, now: number): Promise<JobInfo | undefined> {
  const found = await locate(engine, idOrKey);
  if (!found) return undefined;
  const { shard, id, body } = found;
  const k = engine.keys(shard);
  const { header, payloadJson } = await engine.decodeJob(shard, id, body);
  const [delayed, ready, inflight, dead, rawState] = await Promise.all([
    engine.redis.zscore(k.delayed(header.h), id),
    engine.redis.zscore(k.ready(header.h), id),
    engine.redis.zscore(k.inflight(header.h), id),
    engine.redis.zscore(k.dead, id),
    engine.redis.hget(k.state, id),
  ]);
  const state = parseState(rawState);
  let jobState: JobState = 'arming';
  let runAt: number | undefined = header.o ?? header.r;
  if (dead !== null) jobState = 'dead';
  else if (inflight !== null) jobState = 'inflight';
  else if (ready !== null) jobState = 'due';
  else if (delayed !== null) {
    runAt = Number(delayed);
    jobState = runAt <= now ? 'due' : 'scheduled';
  }
  // A one-off job in no queue is parked (parking.ts) until the tick moves it, shortly before it is due.
  const parked = jobState === 'arming' && isOneOff(header) && runAt !== undefined;
  if (parked) jobState = runAt! <= now ? 'due' : 'scheduled';
  return {
    id,
    handler: header.h,
    state: jobState,
    ...(runAt !== undefined ? { runAt: new Date(runAt) } : {}),
    payload: parsePayload(payloadJson),
    ...(header.k !== undefined ? { key: header.k } : {}),
    attempt: inflight !== null ? inflightAttempt(rawState) : state.attempt,
    maxAttempts: header.m ?? DEFAULT_MAX_ATTEMPTS,
    priority: header.p ?? 0,
    revision: header.v,
    idempotencyKey: idempotencyKeyOf(id, header),
    ...(header.c !== undefined ? { cron: header.c, timezone: header.z ?? 'UTC' } : {}),
    ...(header.e !== undefined ? { everyMs: header.e } : {}),
    ...(header.x !== undefined ? { expiresAt: new Date(header.x) } : {}),
    ...(parked ? { parked: true } : {}),
    ...(inflight !== null ? { leaseUntil: new Date(Number(inflight)) } : {}),
    ...(dead !== null ? { failedAt: new Date(Number(dead)) } : {}),
    ...(state.reason ? { lastReason: state.reason, lastError: state.error } : {}),
    shard,
  };
}

export async function pausedHandlers(engine: Engine): Promise<Set<string>> {
  return new Set(await engine.redis.smembers(engine.global.paused));
}

export async function allHandlers(engine: Engine): Promise<string[]> {
  const sets = await Promise.all(Array.from({ length: engine.shards }, (_, s) => engine.handlersOf(s)));
  return [...new Set(sets.flat())].sort();
}

/**
 * The earliest due time in a ready queue (ranked by due − priority × step, so the head is not always the
 * oldest). A job due before the head's due time ranks at or before it, so only that range is read (at most
 * 1000 entries: beyond that the answer is a lower bound of the age).
 */
async function oldestReadyDue(
  engine: Engine,
  k: ShardKeys,
  handler: string,
  headRank: number,
  headId: string,
): Promise<number> {
  const step = engine.agingStepMs;
  const headDue = headRank + Number((await engine.redis.hget(k.prio, headId)) ?? 0) * step;
  if (headDue === headRank) return headDue;
  const range = await engine.redis.zrangebyscore(
    k.ready(handler),
    headRank,
    headDue,
    'WITHSCORES',
    'LIMIT',
    0,
    1000,
  );
  const ids = range.filter((_, i) => i % 2 === 0);
  const priorities = await engine.redis.hmget(k.prio, ...ids);
  let oldest = headDue;
  for (let i = 0; i < ids.length; i++) {
    oldest = Math.min(oldest, Number(range[2 * i + 1]) + Number(priorities[i] ?? 0) * step);
  }
  return oldest;
}

const DEAD_PAGE = 500;
/** Dead jobs counted per handler; past this many in one shard, the per-handler split is not computed. */
export const DEAD_COUNT_SCAN_LIMIT = 50_000;

/** Per-handler counts of a shard's dead set, paging through it (the dead set is not split by handler). */
async function countDeadByHandler(engine: Engine, shard: number): Promise<Map<string, number>> {
  const k = engine.keys(shard);
  const counts = new Map<string, number>();
  for (let start = 0; start < DEAD_COUNT_SCAN_LIMIT; start += DEAD_PAGE) {
    const ids = await engine.redis.zrange(k.dead, start, start + DEAD_PAGE - 1);
    if (ids.length === 0) break;
    const bodies = await engine.redis.hmget(k.jobs, ...ids);
    const entries: Array<[string, string]> = [];
    ids.forEach((id, i) => {
      const body = bodies[i];
      if (body !== null && body !== undefined) entries.push([id, body]);
    });
    for (const { header } of await engine.decodeJobs(shard, entries)) {
      counts.set(header.h, (counts.get(header.h) ?? 0) + 1);
    }
    if (ids.length < DEAD_PAGE) break;
  }
  return counts;
}

/** The counts of a handler with no jobs. */
export function emptyHandlerStats(paused: boolean): {
  -readonly [K in keyof HandlerStats]: HandlerStats[K];
} {
  return { scheduled: 0, parked: 0, due: 0, inflight: 0, dead: 0, oldestDueAgeMs: 0, paused };
}

export async function getStats(engine: Engine, now: number): Promise<Stats> {
  const paused = await pausedHandlers(engine);
  const byHandler: Record<string, ReturnType<typeof emptyHandlerStats>> = {};
  let dead = 0;
  for (let shard = 0; shard < engine.shards; shard++) {
    const k = engine.keys(shard);
    const handlers = await engine.handlersOf(shard);
    dead += await engine.redis.zcard(k.dead);
    const deadByHandler = await countDeadByHandler(engine, shard);
    await Promise.all(
      handlers.map(async (h) => {
        const [notYet, dueDelayed, readyCount, inflight, delayedHead, readyHead, parked] = await Promise.all([
          engine.redis.zcount(k.delayed(h), `(${now}`, '+inf'),
          engine.redis.zcount(k.delayed(h), '-inf', now),
          engine.redis.zcard(k.ready(h)),
          engine.redis.zcard(k.inflight(h)),
          engine.redis.zrange(k.delayed(h), 0, 0, 'WITHSCORES'),
          engine.redis.zrange(k.ready(h), 0, 0, 'WITHSCORES'),
          engine.redis.hget(k.parkedCount, h),
        ]);
        let oldestDue = Number.POSITIVE_INFINITY;
        if (delayedHead[1] !== undefined && Number(delayedHead[1]) <= now) oldestDue = Number(delayedHead[1]);
        if (readyHead[0] !== undefined) {
          oldestDue = Math.min(
            oldestDue,
            await oldestReadyDue(engine, k, h, Number(readyHead[1]), readyHead[0]),
          );
        }
        byHandler[h] ??= emptyHandlerStats(paused.has(h));
        const entry = byHandler[h];
        // Parked jobs count as scheduled until the tick moves them (shortly before they are due).
        entry.scheduled += notYet + Number(parked ?? 0);
        entry.parked += Number(parked ?? 0);
        entry.due += dueDelayed + readyCount;
        entry.inflight += inflight;
        entry.dead += deadByHandler.get(h) ?? 0;
        if (Number.isFinite(oldestDue))
          entry.oldestDueAgeMs = Math.max(entry.oldestDueAgeMs, Math.max(0, now - oldestDue));
      }),
    );
  }
  const values = Object.values(byHandler);
  return {
    scheduled: values.reduce((a, h) => a + h.scheduled, 0),
    parked: values.reduce((a, h) => a + h.parked, 0),
    due: values.reduce((a, h) => a + h.due, 0),
    inflight: values.reduce((a, h) => a + h.inflight, 0),
    dead,
    oldestDueAgeMs: values.reduce((a, h) => Math.max(a, h.oldestDueAgeMs), 0),
    byHandler,
  };
}

export type ListState = 'scheduled' | 'due' | 'inflight' | 'dead';

/** Lists up to `limit` jobs in one state (and optionally one handler), oldest first. */
export async function listJobs(
  engine: Engine,
  options: { state: ListState; handler?: string; limit: number },
  now: number,
): Promise<JobInfo[]> {
  const out: JobInfo[] = [];
  for (let shard = 0; shard < engine.shards && out.length < options.limit; shard++) {
    const k = engine.keys(shard);
    const handlers = options.handler ? [options.handler] : await engine.handlersOf(shard);
    const ids: string[] = [];
    if (options.state === 'dead') {
      // The dead set is shared by all handlers: page through it until enough match the filter.
      for (let start = 0; ids.length < options.limit; start += DEAD_PAGE) {
        const page = await engine.redis.zrange(k.dead, start, start + DEAD_PAGE - 1);
        if (options.handler) {
          const bodies = page.length > 0 ? await engine.redis.hmget(k.jobs, ...page) : [];
          const entries: Array<[string, string]> = [];
          page.forEach((id, i) => {
            const body = bodies[i];
            if (body) entries.push([id, body]);
          });
          (await engine.decodeJobs(shard, entries)).forEach(({ header }, i) => {
            if (header.h === options.handler) ids.push(entries[i]![0]);
          });
        } else {
          ids.push(...page);
        }
        if (page.length < DEAD_PAGE) break;
      }
    } else {
      for (const h of handlers) {
        if (options.state === 'scheduled') {
          const queued = await engine.redis.zrangebyscore(
            k.delayed(h),
            `(${now}`,
            '+inf',
            'LIMIT',
            0,
            options.limit,
          );
          const jobs = new Map<string, JobInfo>();
          for (const id of queued) {
            const job = await getJob(engine, id, now);
            if (job?.state === 'scheduled' && job.handler === h) jobs.set(id, job);
          }
          for (const job of await parkedJobs(engine, shard, h, options.limit, now)) jobs.set(job.id, job);
          const sorted = [...jobs.values()].sort((a, b) => a.runAt!.getTime() - b.runAt!.getTime());
          for (const job of sorted.slice(0, options.limit - out.length)) out.push(job);
        } else if (options.state === 'due') {
          ids.push(...(await engine.redis.zrange(k.ready(h), 0, options.limit - 1)));
          ids.push(
            ...(await engine.redis.zrangebyscore(k.delayed(h), '-inf', now, 'LIMIT', 0, options.limit)),
          );
        } else {
          ids.push(...(await engine.redis.zrange(k.inflight(h), 0, options.limit - 1)));
        }
      }
    }
    for (const id of ids) {
      if (out.length >= options.limit) break;
      const job = await getJob(engine, id, now);
      if (job && (!options.handler || job.handler === options.handler)) out.push(job);
    }
  }
  return out;
}

/**
 * The `limit` soonest parked jobs of one handler in one shard. Slots are read in order of their start; a
 * slot's entries are unordered, so a slot is read whole (1,000 entries per page: one `HMGET` of bodies and
 * one `ZMSCORE` per queue), and reading stops at the first slot that starts after the `limit`-th soonest
 * job found so far. Stale entries (jobs since cancelled, moved or upserted elsewhere) are skipped.
 */
async function parkedJobs(
  engine: Engine,
  shard: number,
  handler: string,
  limit: number,
  now: number,
): Promise<JobInfo[]> {
  const k = engine.keys(shard);
  // id → due time of the parked jobs found, trimmed to the `limit` soonest after each slot.
  let soonest = new Map<string, number>();
  let cutoff = Number.POSITIVE_INFINITY;
  slots: for (let offset = 0; ; offset += PARKED_SLOT_PAGE) {
    const page = await engine.redis.zrange(
      k.parked(handler),
      offset,
      offset + PARKED_SLOT_PAGE - 1,
      'WITHSCORES',
    );
    for (let i = 0; i < page.length; i += 2) {
      if (Number(page[i + 1]) > cutoff) break slots;
      const list = k.parkedSlot(handler, page[i]!);
      for (let start = 0; ; start += PARKED_ENTRY_PAGE) {
        const ids = await engine.redis.lrange(list, start, start + PARKED_ENTRY_PAGE - 1);
        for (const [id, due] of await stillParked(engine, shard, handler, ids)) soonest.set(id, due);
        if (ids.length < PARKED_ENTRY_PAGE) break;
      }
      if (soonest.size >= limit) {
        soonest = new Map([...soonest].sort((a, b) => a[1] - b[1]).slice(0, limit));
        cutoff = [...soonest.values()][limit - 1]!;
      }
    }
    if (page.length < 2 * PARKED_SLOT_PAGE) break;
  }
  const jobs = await Promise.all([...soonest.keys()].map((id) => getJob(engine, id, now)));
  return jobs
    .filter((job): job is JobInfo => job?.parked === true)
    .sort((a, b) => a.runAt!.getTime() - b.runAt!.getTime());
}

/** Of `ids` (entries of a parking slot of `handler`), the jobs that are parked, with their due times. */
async function stillParked(
  engine: Engine,
  shard: number,
  handler: string,
  ids: readonly string[],
): Promise<Array<[string, number]>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const k = engine.keys(shard);
  const [bodies, delayed, ready, inflight, dead] = await Promise.all([
    engine.redis.hmget(k.jobs, ...unique),
    engine.redis.zmscore(k.delayed(handler), ...unique),
    engine.redis.zmscore(k.ready(handler), ...unique),
    engine.redis.zmscore(k.inflight(handler), ...unique),
    engine.redis.zmscore(k.dead, ...unique),
  ]);
  const entries: Array<[string, string]> = [];
  unique.forEach((id, i) => {
    const body = bodies[i];
    if (body && delayed[i] === null && ready[i] === null && inflight[i] === null && dead[i] === null) {
      entries.push([id, body]);
    }
  });
  const decoded = await engine.decodeJobs(shard, entries);
  const out: Array<[string, number]> = [];
  decoded.forEach(({ header }, i) => {
    if (header.h === handler && isOneOff(header) && header.r !== undefined)
      out.push([entries[i]![0], header.r]);
  });
  return out;
}

export interface Heartbeat {
  readonly at: Date;
  readonly owner: string;
  readonly mode: string;
}

export async function readHeartbeat(engine: Engine): Promise<Heartbeat | undefined> {
  const raw = await engine.redis.hgetall(engine.global.heartbeat);
  if (!raw.at) return undefined;
  return { at: new Date(Number(raw.at)), owner: raw.owner ?? '', mode: raw.mode ?? '' };
}
