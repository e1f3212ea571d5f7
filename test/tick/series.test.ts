/**
 * Recurring series in the tick loop on a real Redis: a series fires on time while a large backlog of one-off
 * tasks drains (its arming never waits behind the backlog), and a series past its expiresAt ends as
 * completed (SeriesEnded), with nothing dead-lettered.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { TickLoop } from '../../src/tick/loop.js';
import { newClient, randomNamespace } from '../support/context.js';
import { RecordingPublisher } from './support.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const LEASE = 60_000;

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

describe('recurring series in the tick', () => {
  it('a per-second cron series fires every occurrence on time while 100,000 one-off tasks of another handler drain', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace, now: () => T0 });
    for (let done = 0; done < 100_000; done += 5000)
      await scheduler.scheduleMany(
        Array.from({ length: 5000 }, (_, i) => ({ handler: 'bulk', payload: done + i, at: T0 - 1 })),
      );
    const { id: series } = await scheduler.schedule({ handler: 'tick', cron: '* * * * * *', payload: 's' });
    // The loop's clock moves 10 ms on every read: one pass over the backlog spans simulated seconds, the same
    // whatever the machine's speed.
    const clock = { now: T0 + 1000 };
    const now = () => (clock.now += 10);
    const engine = new Engine(redis, { namespace });
    const publisher = new RecordingPublisher(now);
    const loop = new TickLoop({ engine, publisher, now, leaseMs: LEASE });
    const stats = await loop.pass();
    expect(stats.claimed).toBeGreaterThanOrEqual(100_000);
    const end = clock.now;

    const fired = publisher.published
      .filter((p) => p.task.handler === 'tick')
      .map((p) => ({ occurrence: Number(p.task.id.split('@')[1]), claimedAt: p.task.leaseUntil - LEASE }));
    expect(fired.every((f, i) => i === 0 || f.occurrence > fired[i - 1]!.occurrence)).toBe(true);
    // Every occurrence from the first to the last the pass reached, none skipped …
    const expected: number[] = [];
    for (let t = T0 + 1000; t <= end - 1000; t += 1000) expected.push(t);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(fired.map((f) => f.occurrence).slice(0, expected.length)).toEqual(expected);
    // … each claimed before the next one was due (within the pass, not after the backlog).
    for (const f of fired) {
      expect(f.claimedAt).toBeGreaterThanOrEqual(f.occurrence);
      expect(f.claimedAt).toBeLessThan(f.occurrence + 1000);
    }
    expect(fired[0]!.occurrence).toBe(T0 + 1000);
    expect(series).toBeTruthy();
  }, 120_000);

  it('a series past its expiresAt ends as completed: SeriesEnded, nothing dead, no dead-letter metric', async () => {
    let at = T0;
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace, now: () => at });
    await scheduler.schedule({ handler: 'rec', everyMs: 60_000, expiresAt: T0 + 90_000, payload: 1 });
    const engine = new Engine(redis, { namespace });
    const publisher = new RecordingPublisher(() => at);
    const metrics = new InMemoryMetrics();
    const loop = new TickLoop({ engine, publisher, now: () => at, leaseMs: LEASE, metrics });
    // The tick was away until after expiresAt: the pending occurrence (T0 + 60 s) is claimed late.
    at = T0 + 120_000;
    const stats = await loop.pass();
    expect(stats).toMatchObject({ claimed: 0, expired: 0, seriesEnded: 1 });
    expect(publisher.published).toEqual([]);
    expect(metrics.get('SeriesEnded')).toBe(1);
    expect(metrics.get('TasksDeadLettered')).toBe(0);
    expect(metrics.get('TasksExpired')).toBe(0);
    expect(await scheduler.stats()).toMatchObject({ dead: 0, scheduled: 0, due: 0, inflight: 0 });
  });
});
