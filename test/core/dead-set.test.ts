/** The dead set: replay one or all, purge by cutoff (issue 2, item 10). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { getJob, listJobs } from '../../src/core/inspect.js';
import { purgeDead, replayDead } from '../../src/core/store/admin.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('dead set', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** Schedules jobs with one attempt each and fails them, at `failAt` each. */
  async function killed(tasks: Scheduler, failTimes: number[], keyed = false) {
    const e = tasks.engine;
    const ids: string[] = [];
    const first: TaskEventDetail[] = [];
    for (const [i, failAt] of failTimes.entries()) {
      const { id } = await tasks.schedule({
        handler: 'h',
        at: T0,
        maxAttempts: 1,
        payload: i,
        priority: 2,
        ...(keyed ? { key: `key-${i}` } : {}),
      });
      ids.push(id);
      const [task] = (await promoteClaim(e, [spec('h', 1)], T0)).tasks;
      expect(task?.id).toBe(id);
      first.push(task!);
      expect(await e.fail(task!, { message: `failed ${i}` }, failAt)).toMatchObject({ outcome: 'dead' });
    }
    return { ids, first };
  }

  it('replayDead(id): a new revision (new idempotency key), attempts reset, due now', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { ids, first } = await killed(tasks, [T0 + 10, T0 + 20]);
    const dead = await tasks.get(ids[0]!);
    expect(dead).toMatchObject({ state: 'dead', attempt: 1, lastError: 'failed 0' });

    now = T0 + 60_000;
    expect(await replayDead(e, ids[0]!, now)).toBe(1);
    expect(await replayDead(e, ids[0]!, now)).toBe(0); // no longer dead
    const replayed = await tasks.get(ids[0]!);
    expect(replayed).toMatchObject({ state: 'due', attempt: 0, runAt: new Date(now), priority: 2 });
    expect(replayed?.revision).toBeGreaterThan(dead!.revision);
    expect(replayed?.lastError).toBeUndefined();
    expect((await tasks.stats()).dead).toBe(1);

    const [again] = (await promoteClaim(e, [spec('h')], now)).tasks;
    expect(again).toMatchObject({ id: ids[0], attempt: 1, payload: 0 });
    expect(again!.idempotencyKey).not.toBe(first[0]!.idempotencyKey);
    expect(again!.idempotencyKey).toBe(`${ids[0]}:${now}:${replayed!.revision}`);
    // The old claim of the dead copy cannot act on the replayed job.
    expect(await e.ack(first[0]!)).toBe('stale');
    expect(await e.ack(again!)).toBe('acked');
    expect(await tasks.get(ids[1]!)).toMatchObject({ state: 'dead' });
  });

  it('replayDead({ all: true }) replays every dead job', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const { ids } = await killed(tasks, [T0 + 1, T0 + 2, T0 + 3]);
    now = T0 + 60_000;
    expect(await replayDead(tasks.engine, { all: true }, now)).toBe(3);
    for (const id of ids) expect(await tasks.get(id)).toMatchObject({ state: 'due', attempt: 0 });
    expect(await tasks.stats()).toMatchObject({ due: 3, dead: 0 });
    expect(await replayDead(tasks.engine, { all: true }, now)).toBe(0);
  });

  it('purgeDead(cutoff) removes bodies, state, priorities and key mappings at or before the cutoff', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { ids } = await killed(tasks, [T0 + 100, T0 + 200, T0 + 300], true);
    now = T0 + 60_000;
    expect(await tasks.get('key-0')).toMatchObject({ id: ids[0], state: 'dead' });
    expect(await listJobs(e, { state: 'dead', limit: 10 }, T0 + 60_000)).toHaveLength(3);

    expect(await purgeDead(e, T0 + 200)).toBe(2);
    const k = e.keys(0);
    for (const [i, id] of ids.slice(0, 2).entries()) {
      expect(await tasks.get(id)).toBeUndefined();
      expect(await tasks.get(`key-${i}`)).toBeUndefined();
      expect(await redis.hexists(k.jobs, id)).toBe(0);
      expect(await redis.hexists(k.state, id)).toBe(0);
      expect(await redis.hexists(k.prio, id)).toBe(0);
      expect(await redis.hexists(k.keys, `key-${i}`)).toBe(0);
    }
    expect(await getJob(e, 'key-2', T0)).toMatchObject({ id: ids[2], state: 'dead' });
    expect(await tasks.stats()).toMatchObject({ dead: 1 });
    expect(await purgeDead(e, T0 + 1_000_000)).toBe(1);
    expect(await redis.exists(k.jobs, k.state, k.prio, k.keys, k.dead)).toBe(0);
    // A purged key is free again.
    const fresh = await tasks.schedule({ handler: 'h', key: 'key-0', at: T0 + 90_000 });
    expect(fresh.id).not.toBe(ids[0]);
  });

  it('purgeDead pages through more than one batch', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const e = tasks.engine;
    const k = e.keys(0);
    // 1203 dead entries written directly (the script pages by 500).
    const results = await tasks.scheduleMany(
      Array.from({ length: 1203 }, (_, i) => ({ handler: 'h', at: T0, key: `k${i}` })),
    );
    const pipeline = redis.pipeline();
    for (const r of results) pipeline.zrem(k.delayed('h'), r.id).zadd(k.dead, T0, r.id);
    await pipeline.exec();
    expect(await purgeDead(e, T0)).toBe(1203);
    expect(await redis.exists(k.jobs, k.keys, k.dead)).toBe(0);
  });
});
