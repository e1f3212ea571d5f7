/** Scheduler.stats(): scheduled / due / inflight / dead / oldestDueAgeMs (issue 2, item 13). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { setPaused } from '../../src/core/store/admin.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('Scheduler.stats', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('is all zero for an empty namespace', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    expect(await tasks.stats()).toEqual({
      scheduled: 0,
      parked: 0,
      due: 0,
      inflight: 0,
      dead: 0,
      oldestDueAgeMs: 0,
      byHandler: {},
    });
  });

  it('counts each state once, per handler and in total', async () => {
    let now = T0 - 60_000;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    // Handler a: claimed at T0-50s, one stays in flight, one dies.
    await tasks.schedule({ handler: 'a', at: T0 - 50_000, payload: 'inflight' });
    await tasks.schedule({ handler: 'a', at: T0 - 50_000, payload: 'dead', maxAttempts: 1 });
    now = T0 - 50_000;
    const claimed = (await promoteClaim(e, [spec('a')], now)).tasks;
    expect(claimed).toHaveLength(2);
    await e.fail(claimed.find((t) => t.payload === 'dead')!, { message: 'x' }, now);

    // Three due: one already promoted into ready, two still in the delayed queue; two not yet due.
    now = T0 - 40_000;
    await tasks.schedule({ handler: 'a', at: T0 - 30_000 });
    await tasks.schedule({ handler: 'a', at: T0 - 20_000 });
    await tasks.schedule({ handler: 'a', at: T0 - 10_000 });
    await tasks.schedule({ handler: 'a', at: T0 + 10_000 });
    await tasks.schedule({ handler: 'a', at: T0 + 20_000 });
    await tasks.schedule({ handler: 'a', at: T0 + 7_200_000 }); // parked (due in over 10 min)
    now = T0 - 25_000;
    expect(await e.promote(0, ['a'], now, 100)).toBe(1);

    now = T0;
    expect(await tasks.stats()).toEqual({
      scheduled: 3,
      parked: 1,
      due: 3,
      inflight: 1,
      dead: 1,
      oldestDueAgeMs: 30_000,
      byHandler: {
        a: { scheduled: 3, parked: 1, due: 3, inflight: 1, dead: 1, oldestDueAgeMs: 30_000, paused: false },
      },
    });

    // Exactly at the due time a job counts as due, not scheduled.
    now = T0 + 10_000;
    expect(await tasks.stats()).toMatchObject({ scheduled: 2, due: 4, oldestDueAgeMs: 40_000 });

    // Claiming and acking moves the numbers.
    const all = (await promoteClaim(e, [spec('a')], now)).tasks;
    expect(all).toHaveLength(4);
    for (const t of all) await e.ack(t);
    expect(await tasks.stats()).toMatchObject({
      scheduled: 2,
      parked: 1,
      due: 0,
      inflight: 1,
      dead: 1,
      oldestDueAgeMs: 0,
    });
  });

  it('oldestDueAgeMs is the oldest due job, even when a newer priority job heads the ready queue', async () => {
    let now = T0 - 10_000;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    await tasks.schedule({ handler: 'b', at: T0 - 3000, payload: 'old' }); // ranks behind new-urgent
    await tasks.schedule({ handler: 'b', at: T0 - 1000, priority: 5, payload: 'new-urgent' });
    now = T0;
    expect(await tasks.stats()).toMatchObject({ due: 2, oldestDueAgeMs: 3000 }); // still in delayed
    await tasks.engine.promote(0, ['b'], now, 100);
    expect(await tasks.stats()).toMatchObject({ due: 2, oldestDueAgeMs: 3000 }); // now in ready
    const [first] = (await promoteClaim(tasks.engine, [spec('b', 1)], now)).tasks;
    expect(first?.payload).toBe('new-urgent');
    expect(await tasks.stats()).toMatchObject({ due: 1, inflight: 1, oldestDueAgeMs: 3000 });
  });

  it('a requeued priority job counts as due since its lease expired', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    await tasks.schedule({ handler: 'c', at: T0, priority: 3 });
    await promoteClaim(tasks.engine, [spec('c', 10, { leaseMs: 1000 })], now);
    now = T0 + 1000;
    expect(await tasks.engine.requeueExpired(0, ['c'], now, 100)).toEqual({ requeued: 1, dead: 0 });
    now = T0 + 5000;
    expect(await tasks.stats()).toMatchObject({ due: 1, inflight: 0, oldestDueAgeMs: 4000 });
  });

  it('reports several handlers and the pause switch', async () => {
    let now = T0 - 10_000;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    await tasks.schedule({ handler: 'x', at: T0 - 7000 });
    await tasks.schedule({ handler: 'y', at: T0 - 3000 });
    await tasks.schedule({ handler: 'y', at: T0 + 3000 });
    now = T0;
    await setPaused(tasks.engine, 'y', true);
    const stats = await tasks.stats();
    expect(stats).toMatchObject({ scheduled: 1, due: 2, oldestDueAgeMs: 7000 });
    expect(stats.byHandler.x).toEqual({
      scheduled: 0,
      parked: 0,
      due: 1,
      inflight: 0,
      dead: 0,
      oldestDueAgeMs: 7000,
      paused: false,
    });
    expect(stats.byHandler.y).toEqual({
      scheduled: 1,
      parked: 0,
      due: 1,
      inflight: 0,
      dead: 0,
      oldestDueAgeMs: 3000,
      paused: true,
    });
  });
});
