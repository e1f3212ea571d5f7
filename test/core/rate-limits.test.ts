/** Per-handler rate limits and in-flight caps (issue 2, item 4). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { ScheduleOptions } from '../../src/core/prepare.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

// A whole second, so the one-second windows are [T0, T0+1000), [T0+1000, T0+2000), ...
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

async function backlog(tasks: Scheduler, handler: string, count: number, at: number): Promise<void> {
  for (let done = 0; done < count; done += 2500) {
    const jobs: ScheduleOptions[] = Array.from({ length: Math.min(2500, count - done) }, (_, i) => ({
      handler,
      payload: done + i,
      at,
    }));
    await tasks.scheduleMany(jobs);
  }
}

describe('rate limits', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("a rate-limited backlog of 10,000 does not delay another handler's due job", async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    await backlog(tasks, 'slow', 10_000, T0 - 60_000);
    // Due later than the whole backlog, and scheduled after it.
    const { id: urgent } = await tasks.schedule({ handler: 'fast', payload: 'urgent', at: T0 });

    const specs = [spec('slow', 5000, { limits: { perSecond: 100 } }), spec('fast', 5000)];
    const first = await promoteClaim(e, specs, now);
    expect(first.tasks.filter((t) => t.handler === 'fast').map((t) => t.id)).toEqual([urgent]);
    expect(first.tasks.filter((t) => t.handler === 'slow')).toHaveLength(100);

    // Same one-second window: the limit is used up, whatever the claim limit.
    now = T0 + 999;
    expect((await promoteClaim(e, specs, now)).tasks).toHaveLength(0);
    // Next window: another 100, and not more across several calls in it.
    now = T0 + 1000;
    expect((await promoteClaim(e, specs, now)).tasks).toHaveLength(100);
    now = T0 + 1500;
    expect((await promoteClaim(e, specs, now)).tasks).toHaveLength(0);
    now = T0 + 2000;
    const split = [
      ...(await e.claim(0, [spec('slow', 30, { limits: { perSecond: 100 } })], now)).tasks,
      ...(await e.claim(0, [spec('slow', 500, { limits: { perSecond: 100 } })], now)).tasks,
      ...(await e.claim(0, [spec('slow', 500, { limits: { perSecond: 100 } })], now + 10)).tasks,
    ];
    expect(split).toHaveLength(100);

    // A new due job of the fast handler is not held back by the slow backlog either.
    const { id: urgent2 } = await tasks.schedule({ handler: 'fast', at: now });
    const next = await promoteClaim(e, specs, now);
    expect(next.tasks.map((t) => t.id)).toEqual([urgent2]);

    const stats = await tasks.stats();
    expect(stats.byHandler.slow).toMatchObject({ due: 9700, inflight: 300 });
    expect(stats.byHandler.fast).toMatchObject({ due: 0, inflight: 2 });
  });

  it('maxInFlight caps the claimed-and-unacknowledged count; acks make room', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    await backlog(tasks, 'capped', 200, T0);
    const capped = spec('capped', 1000, { limits: { maxInFlight: 25 } });

    const first = (await promoteClaim(e, [capped], now)).tasks;
    expect(first).toHaveLength(25);
    expect((await promoteClaim(e, [capped], now)).tasks).toHaveLength(0);
    now += 5000;
    expect((await promoteClaim(e, [capped], now)).tasks).toHaveLength(0);

    for (const t of first.slice(0, 10)) expect(await e.ack(t)).toBe('acked');
    const second = (await promoteClaim(e, [capped], now)).tasks;
    expect(second).toHaveLength(10);
    expect((await tasks.stats()).inflight).toBe(25);
  });

  it('perSecond and maxInFlight together: the tighter one wins in each window', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    await backlog(tasks, 'both', 500, T0);
    const both = spec('both', 1000, { limits: { perSecond: 40, maxInFlight: 50 } });

    const w1 = (await promoteClaim(e, [both], now)).tasks;
    expect(w1).toHaveLength(40);
    now = T0 + 1000;
    const w2 = (await promoteClaim(e, [both], now)).tasks;
    expect(w2).toHaveLength(10); // in-flight cap: 50 − 40
    for (const t of [...w1, ...w2]) await e.ack(t);
    now = T0 + 1200; // same window as w2, which used 10 of its 40
    expect((await promoteClaim(e, [both], now)).tasks).toHaveLength(30);
    now = T0 + 2000;
    expect((await promoteClaim(e, [both], now)).tasks).toHaveLength(20); // 50 − 30 in flight
  });
});
