/**
 * Per-handler rate limits and in-flight caps. `perSecond` is a sliding window over all shards, timed by
 * Redis TIME (store/rate-limit.ts): the claims are recorded with the Redis time of their claim call
 * (`ClaimResult.claimedAt`) and no 1-second window may hold more than the limit. Windows are checked as an
 * invariant over what happened, never by sleeping.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { ClaimSpec, Engine } from '../../src/core/engine.js';
import type { ScheduleOptions } from '../../src/core/prepare.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { eventually, newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

/** Claims of `handler` as (Redis time of the claim, count) records. */
interface Claimed {
  readonly at: number;
  readonly count: number;
}

/** Largest number of claims in any window [t, t + 1000) over the records. */
function busiestWindow(records: readonly Claimed[]): number {
  const sorted = [...records].filter((r) => r.count > 0).sort((a, b) => a.at - b.at);
  let best = 0;
  for (let i = 0; i < sorted.length; i++) {
    let sum = 0;
    for (let j = i; j < sorted.length && sorted[j]!.at < sorted[i]!.at + 1000; j++) sum += sorted[j]!.count;
    best = Math.max(best, sum);
  }
  return best;
}

/** One claim call; records what `handler` got and when (Redis time). */
async function claimInto(
  e: Engine,
  shard: number,
  specs: readonly ClaimSpec[],
  now: number,
  handler: string,
  log: Claimed[],
): Promise<TaskEventDetail[]> {
  const result = await e.claim(shard, specs, now);
  const mine = result.tasks.filter((t) => t.handler === handler);
  if (mine.length > 0) {
    expect(result.claimedAt).toBeGreaterThan(0);
    log.push({ at: result.claimedAt, count: mine.length });
  }
  return result.tasks;
}

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

  it("a rate-limited backlog of 10,000 does not delay another handler's due job; the limit holds in every window", async () => {
    const now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    await backlog(tasks, 'slow', 10_000, T0 - 60_000);
    // Due later than the whole backlog, and scheduled after it.
    const { id: urgent } = await tasks.schedule({ handler: 'fast', payload: 'urgent', at: T0 });

    const log: Claimed[] = [];
    const specs = [spec('slow', 5000, { limits: { perSecond: 100 } }), spec('fast', 5000)];
    const first = await claimInto(e, 0, specs, now, 'slow', log);
    expect(first.filter((t) => t.handler === 'fast').map((t) => t.id)).toEqual([urgent]);
    expect(first.filter((t) => t.handler === 'slow')).toHaveLength(100);

    // A new due job of the fast handler is not held back by the slow backlog either.
    const { id: urgent2 } = await tasks.schedule({ handler: 'fast', at: now });
    const next = await claimInto(e, 0, specs, now, 'slow', log);
    expect(next.filter((t) => t.handler === 'fast').map((t) => t.id)).toEqual([urgent2]);

    // Claims of every size, as often as the test can send them, until 300 are claimed: never more than
    // 100 in any sliding second (today's fixed windows let 200 through around a second boundary).
    const sizes = [30, 500, 7, 1000];
    let claimed = log.reduce((n, r) => n + r.count, 0);
    await eventually(
      async () => {
        const limit = sizes[claimed % sizes.length]!;
        claimed += (
          await claimInto(e, 0, [spec('slow', limit, { limits: { perSecond: 100 } })], now, 'slow', log)
        ).length;
        return claimed >= 300;
      },
      30_000,
      1,
    );
    expect(busiestWindow(log)).toBeLessThanOrEqual(100);
    const stats = await tasks.stats();
    expect(stats.byHandler.slow?.inflight).toBe(claimed);
    expect(stats.byHandler.fast).toMatchObject({ due: 0, inflight: 2 });
  });

  it('perSecond holds over all shards together: 2 shards × perSecond 5 claim at most 5 in any second', async () => {
    const now = T0;
    const namespace = randomNamespace();
    const tasks = new Scheduler({ redis, namespace, shards: 2, now: () => now });
    const e = tasks.engine;
    await tasks.scheduleMany(Array.from({ length: 40 }, (_, i) => ({ handler: 'api', payload: i, at: T0 })));
    const k0 = e.keys(0).delayed('api');
    const k1 = e.keys(1).delayed('api');
    // The jobs are spread over both shards.
    expect(await redis.zcard(k0)).toBeGreaterThan(0);
    expect(await redis.zcard(k1)).toBeGreaterThan(0);
    const log: Claimed[] = [];
    const limited = [spec('api', 1000, { limits: { perSecond: 5 } })];
    // Both shards claim at once, again and again (as two ticks, or one tick's pass over both shards, would).
    let claimed = 0;
    await eventually(
      async () => {
        const got = await Promise.all([0, 1].map((s) => claimInto(e, s, limited, now, 'api', log)));
        claimed += got[0]!.length + got[1]!.length;
        return claimed >= 15;
      },
      30_000,
      1,
    );
    expect(busiestWindow(log)).toBeLessThanOrEqual(5);
  });

  it('a backlog at a window boundary: never 2 × N within a second (sliding, not fixed windows)', async () => {
    // The tick's own clock this time (fixed one-second windows of it let 2 × N through around a boundary).
    const tasks = new Scheduler({ redis, namespace: randomNamespace() });
    const e = tasks.engine;
    await backlog(tasks, 'api', 50, Date.now());
    const log: Claimed[] = [];
    const limited = [spec('api', 1000, { limits: { perSecond: 5 } })];
    // Claim continuously across at least two Redis seconds.
    let claimed = 0;
    await eventually(
      async () => {
        claimed += (await claimInto(e, 0, limited, Date.now(), 'api', log)).length;
        return claimed >= 12;
      },
      30_000,
      1,
    );
    expect(busiestWindow(log)).toBeLessThanOrEqual(5);
    // Under a long backlog the window is used in full: the claims come in groups of up to 5.
    expect(log.every((r) => r.count <= 5)).toBe(true);
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

  it('perSecond and maxInFlight together: the tighter one wins', async () => {
    const now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    await backlog(tasks, 'both', 500, T0);
    const both = [spec('both', 1000, { limits: { perSecond: 40, maxInFlight: 50 } })];
    const log: Claimed[] = [];

    // The rate limit binds first: 40.
    const w1 = await claimInto(e, 0, both, now, 'both', log);
    expect(w1).toHaveLength(40);
    // Then the in-flight cap: once the window frees, 50 − 40 = 10, not 40.
    const w2 = await eventually(async () => {
      const got = await claimInto(e, 0, both, now, 'both', log);
      return got.length > 0 ? got : undefined;
    });
    expect(w2).toHaveLength(10);
    for (const t of [...w1, ...w2]) await e.ack(t);
    // Acked: the rate limit binds again (never more than 40 in a second, nor 50 in flight).
    let inflight = 0;
    await eventually(async () => {
      const got = await claimInto(e, 0, both, now, 'both', log);
      inflight += got.length;
      expect(inflight).toBeLessThanOrEqual(50);
      return inflight === 50;
    });
    expect(busiestWindow(log)).toBeLessThanOrEqual(40);
  });
});
