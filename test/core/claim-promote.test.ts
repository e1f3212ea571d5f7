/**
 * claim.lua promotes by itself: due jobs reach a claim without a separate promote, in rank order, and go
 * straight from delayed to in-flight only when nothing could rank ahead of them.
 */
import { describe, expect, it } from 'vitest';
import { parseState } from '../../src/core/codec.js';
import { eventually } from '../support/context.js';
import { spec } from '../support/drive.js';
import { schedulerFixture } from '../support/scheduler-fixture.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('claim promotes', () => {
  const fixture = schedulerFixture(T0);
  const { setup } = fixture;

  it('claims due jobs without a separate promote, in rank order with priorities, never one not yet due', async () => {
    const { tasks, e, k } = setup();
    await tasks.schedule({ handler: 'h', at: T0 - 3000, payload: 'old' });
    await tasks.schedule({ handler: 'h', at: T0, priority: 5, payload: 'p5' });
    await tasks.schedule({ handler: 'h', at: T0 - 1000, payload: 'newer' });
    await tasks.schedule({ handler: 'h', at: T0 + 1, priority: 100, payload: 'later' });

    const { tasks: claimed } = await e.claim(0, [spec('h', 10)], T0);
    expect(claimed.map((t) => t.payload)).toEqual(['p5', 'old', 'newer']);
    expect(await fixture.redis.zcard(k.ready('h'))).toBe(0);
    expect(await fixture.redis.zrange(k.delayed('h'), 0, -1)).toHaveLength(1);
  });

  it('jobs already waiting in ready are ranked together with the newly due ones', async () => {
    let now = T0 - 5;
    const { tasks, e, k } = setup(() => now);
    await tasks.schedule({ handler: 'h', at: T0 - 5, payload: 'waiting' });
    expect(await e.promote(0, ['h'], now, 100)).toBe(1);
    // Scheduled later, due earlier: it ranks ahead of the job already in ready.
    now = T0 - 20;
    await tasks.schedule({ handler: 'h', at: T0 - 10, payload: 'earlier' });
    now = T0;
    expect((await e.claim(0, [spec('h', 1)], now)).tasks.map((t) => t.payload)).toEqual(['earlier']);
    expect(await fixture.redis.zcard(k.ready('h'))).toBe(1);
    expect((await e.claim(0, [spec('h', 1)], now)).tasks.map((t) => t.payload)).toEqual(['waiting']);
  });

  it('a budget smaller than the due jobs, no priorities: the first ones are claimed, the rest wait in delayed', async () => {
    const { tasks, e, k } = setup();
    for (let i = 0; i < 5; i++) await tasks.schedule({ handler: 'h', at: T0 - 100 + i, payload: i });
    expect((await e.claim(0, [spec('h', 2)], T0)).tasks.map((t) => t.payload)).toEqual([0, 1]);
    expect(await fixture.redis.zcard(k.ready('h'))).toBe(0);
    expect(await fixture.redis.zrange(k.delayed('h'), 0, -1)).toHaveLength(3);
    expect((await e.claim(0, [spec('h', 10)], T0)).tasks.map((t) => t.payload)).toEqual([2, 3, 4]);
  });

  it('a budget smaller than the due jobs, a priority in the shard: the rest are ranked in ready', async () => {
    const { tasks, e, k } = setup();
    for (let i = 0; i < 4; i++) await tasks.schedule({ handler: 'h', at: T0 - 100 + i, payload: i });
    // Due last, but its priority ranks it ahead of every other: the budget of 2 takes it first.
    await tasks.schedule({ handler: 'h', at: T0 - 50, priority: 10, payload: 'p' });
    expect((await e.claim(0, [spec('h', 2)], T0)).tasks.map((t) => t.payload)).toEqual(['p', 0]);
    expect(await fixture.redis.zrange(k.ready('h'), 0, -1, 'WITHSCORES')).toHaveLength(6);
    expect(await fixture.redis.zcard(k.delayed('h'))).toBe(0);
    expect((await e.claim(0, [spec('h', 10)], T0)).tasks.map((t) => t.payload)).toEqual([1, 2, 3]);
  });

  it('a budget smaller than the due jobs of a handler with an in-flight cap: the rest are ranked in ready', async () => {
    const { tasks, e, k } = setup();
    for (let i = 0; i < 5; i++) await tasks.schedule({ handler: 'h', at: T0 - 100 + i, payload: i });
    const capped = spec('h', 10, { limits: { maxInFlight: 2 } });
    expect((await e.claim(0, [capped], T0)).tasks.map((t) => t.payload)).toEqual([0, 1]);
    expect(await fixture.redis.zcard(k.ready('h'))).toBe(3);
    expect(await fixture.redis.zcard(k.delayed('h'))).toBe(0);
  });

  it('a spec with limit 0 only promotes (a paused handler, or no capacity)', async () => {
    const { tasks, e, k } = setup();
    for (let i = 0; i < 3; i++) await tasks.schedule({ handler: 'h', at: T0, payload: i });
    expect((await e.claim(0, [spec('h', 0)], T0)).tasks).toEqual([]);
    expect(await fixture.redis.zcard(k.ready('h'))).toBe(3);
    expect(await fixture.redis.zcard(k.inflight('h'))).toBe(0);
  });

  it('a rate-limited handler only has its due jobs promoted; the other handler in the call is claimed', async () => {
    const { tasks, e, k } = setup();
    for (let i = 0; i < 4; i++) await tasks.schedule({ handler: 'slow', at: T0, payload: i });
    await tasks.schedule({ handler: 'fast', at: T0, payload: 'f' });
    const specs = [spec('slow', 10, { limits: { perSecond: 1 } }), spec('fast', 10)];
    const first = await e.claim(0, specs, T0);
    expect(first.tasks.map((t) => t.payload)).toEqual([0, 'f']);
    expect(await fixture.redis.zcard(k.ready('slow'))).toBe(3);
    // The next slow job is claimed once the sliding window (Redis time) has moved past the first claim.
    const next = await eventually(async () => {
      const r = await e.claim(0, specs, T0);
      return r.tasks.length > 0 ? r : undefined;
    });
    expect(next.tasks.map((t) => t.payload)).toEqual([1]);
    expect(next.claimedAt - first.claimedAt).toBeGreaterThanOrEqual(1000);
  });

  it('a series, an expired job and plain jobs in one batch: an occurrence writes its token, a first claim none', async () => {
    let now = T0 - 60_002;
    const { tasks, e, k } = setup(() => now);
    // Due order: before (T0 - 3), the series' first occurrence (T0 - 2), gone (T0 - 1), after (T0): the
    // jobs after the series in the batch are read again after it wrote.
    const { id: before } = await tasks.schedule({ handler: 'h', at: T0 - 3, payload: 'before' });
    const { id: series } = await tasks.schedule({ handler: 'h', everyMs: 60_000, payload: 'series' });
    const { id: gone } = await tasks.schedule({ handler: 'h', at: T0 - 1, expiresAt: T0 - 1, payload: 'x' });
    const { id: after } = await tasks.schedule({ handler: 'h', at: T0, payload: 'after' });
    now = T0;

    const { tasks: claimed, expired } = await e.claim(0, [spec('h', 10)], now);
    expect(expired).toBe(1);
    expect(await fixture.redis.zscore(k.dead, gone)).toBe(String(T0));
    expect(claimed.map((t) => t.id)).toEqual([before, `${series}@${T0 - 2}`, after]);
    expect(new Set(claimed.map((t) => t.claimToken)).size).toBe(3);
    for (const task of claimed) {
      expect(task.attempt).toBe(1);
      expect(task.claimToken.endsWith(`.${task.id}`)).toBe(true);
    }
    // The occurrence's id can come back (an upsert of its series): its claim keeps its token in the state.
    // A one-off job's first claim writes none (test/core/first-claim.test.ts).
    expect(parseState(await fixture.redis.hget(k.state, claimed[1]!.id)).token).toBe(claimed[1]!.claimToken);
    expect(await fixture.redis.hmget(k.state, before, after)).toEqual([null, null]);
    expect(await fixture.redis.zscore(k.delayed('h'), series)).toBe(String(T0 - 2 + 60_000));
    for (const task of claimed) expect(await e.ack(task)).toBe('acked');
  });

  it('a redelivered job counts its attempt from its state', async () => {
    const { tasks, e } = setup();
    await tasks.schedule({ handler: 'h', at: T0, payload: 'p' });
    const [first] = (await e.claim(0, [spec('h', 10, { leaseMs: 100 })], T0)).tasks;
    expect(await e.requeueExpired(0, ['h'], T0 + 100, 100)).toEqual({ requeued: 1, dead: 0 });
    const [second] = (await e.claim(0, [spec('h', 10)], T0 + 100)).tasks;
    expect(second).toMatchObject({ id: first!.id, attempt: 2, idempotencyKey: first!.idempotencyKey });
    expect(await e.ack(first!)).toBe('stale');
    expect(await e.ack(second!)).toBe('acked');
  });
});
