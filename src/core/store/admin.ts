/**
 * The operator's writes: cancel a job, replay or purge the dead set, pause and resume a handler. Used by
 * `Scheduler.cancel` and the CLI. The read side is `../inspect.ts`; the transitions of the flow (schedule,
 * claim, ack, fail, ...) are `Engine`'s.
 */
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

/** Replays one dead job, or all of them; returns how many were replayed. */
export async function replayDead(
  engine: Engine,
  idOrAll: string | { all: true },
  now: number,
): Promise<number> {
  let replayed = 0;
  for (let shard = 0; shard < engine.shards; shard++) {
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
