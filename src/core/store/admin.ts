/**
 * The operator's writes: cancel a job, replay or purge the dead set, pause and resume a handler. Used by
 * `Scheduler` (`cancel`, `pause`, `resume`, `replayDead`, `purgeDead`: the admin API) and the CLI. The read side is `../inspect.ts`; the transitions of the flow (schedule,
 * claim, ack, fail, ...) are `Engine`'s.
 */
import { ValidationError } from '../../errors.js';
import type { Engine } from '../engine.js';
import { locate } from '../inspect.js';
import { runScript } from '../script.js';
import { LUA } from '../scripts.generated.js';

/** Cancels the job with this id (or key), wherever it is (queued, parked, in flight or dead). */
export async function cancelJob(engine: Engine, idOrKey: string): Promise<boolean> {
  for (let tries = 0; tries < 3; tries++) {
    const found = await locate(engine, idOrKey);
    if (!found) return false;
    const k = engine.keys(found.shard);
    const { header, handlerRef } = await engine.decodeJob(found.shard, found.id, found.body);
    const code = await runScript<number>(
      engine.redis,
      LUA.cancel,
      [
        k.jobs,
        k.keys,
        k.state,
        k.prio,
        k.dead,
        k.arm,
        k.delayed(header.h),
        k.ready(header.h),
        k.inflight(header.h),
        k.parkedCount,
      ],
      [found.id, handlerRef, header.h],
    );
    if (code !== -1) return code === 1;
  }
  return false;
}

/** Pauses (`true`) or resumes a handler: the tick claims nothing of a paused handler. True when it changed. */
export async function setPaused(engine: Engine, handler: string, paused: boolean): Promise<boolean> {
  const changed = paused
    ? await engine.redis.sadd(engine.global.paused, handler)
    : await engine.redis.srem(engine.global.paused, handler);
  return changed === 1;
}

/** Pauses a handler (the tick claims none of its tasks); true when it changed. */
export function pauseHandler(engine: Engine, handler: string): Promise<boolean> {
  return setPaused(engine, handler, true);
}

/** Resumes a paused handler; true when it changed. */
export function resumeHandler(engine: Engine, handler: string): Promise<boolean> {
  return setPaused(engine, handler, false);
}

/** Replays one dead job (in `onlyShard`, when known), or all of them; returns how many were replayed. */
export async function replayDead(
  engine: Engine,
  idOrAll: string | { all: true },
  now: number,
  onlyShard?: number,
): Promise<number> {
  let replayed = 0;
  for (let shard = 0; shard < engine.shards; shard++) {
    if (onlyShard !== undefined && shard !== onlyShard) continue;
    const k = engine.keys(shard);
    const ids = typeof idOrAll === 'string' ? [idOrAll] : await engine.redis.zrange(k.dead, 0, -1);
    for (const id of ids) {
      const body = await engine.redis.hget(k.jobs, id);
      if (body === null) continue;
      const { header, handlerRef } = await engine.decodeJob(shard, id, body);
      const code = await runScript<number>(
        engine.redis,
        LUA.replayDead,
        [k.jobs, k.state, k.dead, k.delayed(header.h), k.seq],
        [id, now, handlerRef],
      );
      if (code === 1) replayed++;
    }
  }
  return replayed;
}

/** Deletes dead jobs that failed at or before `cutoffMs`; returns how many. */
export async function purgeDead(engine: Engine, cutoffMs: number): Promise<number> {
  let purged = 0;
  for (let shard = 0; shard < engine.shards; shard++) {
    const k = engine.keys(shard);
    for (;;) {
      const n = await runScript<number>(
        engine.redis,
        LUA.purgeDead,
        [k.dead, k.jobs, k.state, k.keys, k.prio],
        [cutoffMs, 500],
      );
      purged += n;
      if (n < 500) break;
    }
  }
  return purged;
}

/**
 * Which dead jobs an admin call selects: one job by id, one by user key, a handler's dead jobs, or every
 * dead job; the last two optionally only those that died at least `olderThanMs` ago.
 */
export type DeadSelector =
  | { readonly id: string }
  | { readonly key: string }
  | { readonly handler: string; readonly olderThanMs?: number }
  | { readonly all: true; readonly olderThanMs?: number };

/** What a replay or purge of dead jobs did. */
export interface DeadResult {
  /** Jobs replayed (or purged). */
  readonly count: number;
  /** Their ids, in the order they were handled. */
  readonly ids: readonly string[];
}

/** Dead jobs read per page while a selector is resolved. */
const DEAD_PAGE = 500;

/** Checks a selector's shape; throws `ValidationError` naming the bad field. */
export function checkDeadSelector(selector: DeadSelector): void {
  const s = selector as Record<string, unknown>;
  if (typeof s !== 'object' || s === null) throw new ValidationError('selector', selector, 'an object');
  const kinds = ['id', 'key', 'handler', 'all'].filter((k) => s[k] !== undefined);
  if (kinds.length !== 1)
    throw new ValidationError(
      'selector',
      selector,
      'exactly one of { id }, { key }, { handler }, { all: true }',
    );
  const kind = kinds[0]!;
  if (kind === 'all' && s.all !== true) throw new ValidationError('selector.all', s.all, 'true');
  if (kind !== 'all' && (typeof s[kind] !== 'string' || (s[kind] as string).length === 0))
    throw new ValidationError(`selector.${kind}`, s[kind], 'a non-empty string');
  if (s.olderThanMs !== undefined) {
    if (kind === 'id' || kind === 'key')
      throw new ValidationError('selector.olderThanMs', s.olderThanMs, 'absent with { id } or { key }');
    if (typeof s.olderThanMs !== 'number' || !Number.isFinite(s.olderThanMs) || s.olderThanMs < 0)
      throw new ValidationError('selector.olderThanMs', s.olderThanMs, 'a finite number of ms ≥ 0');
  }
}

/**
 * Visits the dead jobs a selector names, shard by shard, a page at a time: `act(shard, ids)` handles a page
 * and returns the ids it took out of the dead set (the others are stepped over).
 */
async function eachDead(
  engine: Engine,
  selector: DeadSelector,
  now: number,
  act: (shard: number, ids: string[]) => Promise<string[]>,
): Promise<DeadResult> {
  checkDeadSelector(selector);
  const done: string[] = [];
  if ('id' in selector || 'key' in selector) {
    const ref = 'id' in selector ? selector.id : selector.key;
    const found = await locate(engine, ref);
    // An id is matched as an id only, a key as a key only.
    if (found && ('id' in selector ? found.id === ref : found.id !== ref)) {
      if ((await engine.redis.zscore(engine.keys(found.shard).dead, found.id)) !== null)
        done.push(...(await act(found.shard, [found.id])));
    }
    return { count: done.length, ids: done };
  }
  const cutoff = selector.olderThanMs === undefined ? '+inf' : now - selector.olderThanMs;
  const handler = 'handler' in selector ? selector.handler : undefined;
  for (let shard = 0; shard < engine.shards; shard++) {
    const k = engine.keys(shard);
    let offset = 0;
    for (;;) {
      const page = await engine.redis.zrangebyscore(k.dead, '-inf', cutoff, 'LIMIT', offset, DEAD_PAGE);
      if (page.length === 0) break;
      let ids = page;
      if (handler !== undefined) {
        const bodies = await engine.redis.hmget(k.jobs, ...page);
        ids = [];
        for (const [i, id] of page.entries()) {
          const body = bodies[i];
          if (body === null || body === undefined) continue;
          if ((await engine.decodeJob(shard, id, body)).header.h === handler) ids.push(id);
        }
      }
      const taken = ids.length === 0 ? [] : await act(shard, ids);
      done.push(...taken);
      // What stayed in the dead set (another handler's, or changed meanwhile) is stepped over.
      offset += page.length - taken.length;
      if (page.length < DEAD_PAGE) break;
    }
  }
  return { count: done.length, ids: done };
}

/**
 * Replays the selected dead jobs: each goes back to its queue due at `now`, attempts reset, with a new
 * revision (a new idempotency key). A job that left the dead set meanwhile is skipped.
 */
export async function replayDeadJobs(
  engine: Engine,
  selector: DeadSelector,
  now: number,
): Promise<DeadResult> {
  return eachDead(engine, selector, now, async (shard, ids) => {
    const replayed: string[] = [];
    for (const id of ids) if ((await replayDead(engine, id, now, shard)) === 1) replayed.push(id);
    return replayed;
  });
}

/** Deletes the selected dead jobs for good (body, state, priority, key mapping). */
export async function purgeDeadJobs(
  engine: Engine,
  selector: DeadSelector,
  now: number,
): Promise<DeadResult> {
  return eachDead(engine, selector, now, async (shard, ids) => {
    const k = engine.keys(shard);
    return runScript<string[]>(
      engine.redis,
      LUA.purgeDeadIds,
      [k.dead, k.jobs, k.state, k.keys, k.prio],
      ids,
    );
  });
}
