/** Claim order: priority, the aging rule, never before due, same-millisecond FIFO (issue 2, items 7–8). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import type { ScheduleOptions } from '../../src/core/prepare.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('claim order', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  const claimOrder = async (tasks: Scheduler, now: number, limit = 100) =>
    (await promoteClaim(tasks.engine, [spec('h', limit)], now)).tasks.map((t) => t.payload);

  it('among due jobs the higher priority is claimed first', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    for (const priority of [0, 5, 1, 100, 0, 5])
      await tasks.schedule({ handler: 'h', at: T0, priority, payload: `p${priority}` });
    expect(await claimOrder(tasks, T0, 1)).toEqual(['p100']);
    expect(await claimOrder(tasks, T0, 2)).toEqual(['p5', 'p5']);
    expect(await claimOrder(tasks, T0)).toEqual(['p1', 'p0', 'p0']);
  });

  it('priority never makes a job run before it is due', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    await tasks.schedule({ handler: 'h', at: T0 + 1, priority: 100, payload: 'urgent-later' });
    await tasks.schedule({ handler: 'h', at: T0, payload: 'plain-now' });
    expect(await claimOrder(tasks, now)).toEqual(['plain-now']);
    expect(await claimOrder(tasks, now)).toEqual([]);
    now = T0 + 1;
    expect(await claimOrder(tasks, now)).toEqual(['urgent-later']);
  });

  it('aging: an old priority-0 job beats a newer priority-5 job once it has waited more than 5 s', async () => {
    for (const [wait, winner] of [
      [4999, 'p5'],
      [5001, 'p0'],
    ] as const) {
      let now = T0;
      const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
      await tasks.schedule({ handler: 'h', at: T0, payload: 'p0' });
      await tasks.schedule({ handler: 'h', at: T0 + wait, priority: 5, payload: 'p5' });
      await tasks.engine.promote(0, ['h'], now, 100); // the old job waits in ready meanwhile
      now = T0 + wait;
      expect(await claimOrder(tasks, now, 1)).toEqual([winner]);
    }
  });

  it('the aging step is configurable (agingStepMs)', async () => {
    const namespace = randomNamespace();
    const tasks = new Scheduler({ redis, namespace, now: () => T0 });
    await tasks.schedule({ handler: 'h', at: T0, payload: 'p0' });
    await tasks.schedule({ handler: 'h', at: T0 + 1500, priority: 1, payload: 'p1' });
    const engine = new Engine(redis, { namespace, agingStepMs: 2000 });
    const { tasks: claimed } = await promoteClaim(engine, [spec('h', 1)], T0 + 1500);
    expect(claimed.map((t) => t.payload)).toEqual(['p1']);
  });

  it('a redelivered job keeps its priority in the ready queue', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    await tasks.schedule({ handler: 'h', at: T0, priority: 10, payload: 'p10' });
    const [claimed] = (await promoteClaim(tasks.engine, [spec('h', 10, { leaseMs: 1000 })], now)).tasks;
    expect(claimed?.payload).toBe('p10');
    await tasks.schedule({ handler: 'h', at: T0 + 500, payload: 'p0' });
    now = T0 + 1000;
    await tasks.engine.promote(0, ['h'], now, 100);
    expect(await tasks.engine.requeueExpired(0, ['h'], now, 100)).toEqual({ requeued: 1, dead: 0 });
    expect(await claimOrder(tasks, now, 1)).toEqual(['p10']);
  });

  it('occurrences of a prioritised series keep the priority on retry', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const { id } = await tasks.schedule({ handler: 'h', everyMs: 60_000, priority: 10, payload: 'series' });
    now = T0 + 60_000;
    const [occurrence] = (await promoteClaim(tasks.engine, [spec('h')], now)).tasks;
    expect(await tasks.get(occurrence!.id)).toMatchObject({ priority: 10 });
    const retry = await tasks.engine.fail(occurrence!, { message: 'x' }, now);
    await tasks.schedule({ handler: 'h', at: retry.retryAt! - 5000, payload: 'older' });
    now = retry.retryAt!;
    const [first] = (await promoteClaim(tasks.engine, [spec('h', 1)], now)).tasks;
    expect(first?.id).toBe(`${id}@${T0 + 60_000}`);
    expect(await tasks.engine.ack(first!)).toBe('acked');
    expect(await redis.hexists(tasks.engine.keys(0).prio, first!.id)).toBe(0);
  });

  it('same-millisecond unkeyed jobs are claimed in scheduling order (FIFO by id)', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const single: string[] = [];
    for (let i = 0; i < 50; i++) single.push((await tasks.schedule({ handler: 'h', at: T0, payload: i })).id);
    const batch = await tasks.scheduleMany(
      Array.from({ length: 200 }, (_, i): ScheduleOptions => ({ handler: 'h', at: T0, payload: 50 + i })),
    );
    const ids = [...single, ...batch.map((r) => r.id)];
    expect([...ids].sort()).toEqual(ids);
    const claimed: unknown[] = [];
    for (let round = 0; round < 25; round++) claimed.push(...(await claimOrder(tasks, T0 + round, 10)));
    expect(claimed).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });

  it('promote moves a backlog larger than Lua unpack() allows in one call', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    for (let b = 0; b < 4; b++)
      await tasks.scheduleMany(
        Array.from({ length: 3000 }, (_, i): ScheduleOptions => ({ handler: 'h', at: T0, priority: i % 3 })),
      );
    expect(await tasks.engine.promote(0, ['h'], T0, 20_000)).toBe(12_000);
    expect(await redis.zcard(tasks.engine.keys(0).ready('h'))).toBe(12_000);
    expect(await redis.zcard(tasks.engine.keys(0).delayed('h'))).toBe(0);
    const first = await promoteClaim(tasks.engine, [spec('h', 4000)], T0);
    expect(first.tasks).toHaveLength(4000);
    // The 4000 priority-2 jobs come first.
    const priorities = await redis.hmget(tasks.engine.keys(0).prio, ...first.tasks.map((t) => t.id));
    expect(new Set(priorities)).toEqual(new Set(['2']));
  });
});
