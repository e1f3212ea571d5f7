/**
 * Parking (src/core/parking.ts): one-off jobs due far ahead wait in per-slot lists, not in `delayed`, and
 * the tick moves a slot into `delayed` shortly before it starts. A list entry is only a hint: cancel and
 * upsert leave stale entries, which the move drops. The per-handler count stays exact through all of it.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { listJobs } from '../../src/core/inspect.js';
import {
  DEFAULT_PARK_AFTER_MS,
  MOVE_AHEAD_MS,
  parkSlotFor,
  parseParkSlot,
  validateParkAfterMs,
} from '../../src/core/parking.js';
import { runScript } from '../../src/core/script.js';
import { LUA } from '../../src/core/scripts.generated.js';
import { ValidationError } from '../../src/errors.js';
import { TickLoop } from '../../src/tick/loop.js';
import { redisUrl } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';
import { schedulerFixture } from '../support/scheduler-fixture.js';
import { RecordingPublisher } from '../tick/support.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const HOUR = 3_600_000;
const MINUTE = 60_000;

describe('parkSlotFor', () => {
  it('parks only jobs due at least parkAfterMs ahead, in a slot that holds the due time', () => {
    expect(parkSlotFor(T0 + DEFAULT_PARK_AFTER_MS - 1, T0, DEFAULT_PARK_AFTER_MS)).toBeUndefined();
    expect(parkSlotFor(T0 + 10 * HOUR, T0, Number.POSITIVE_INFINITY)).toBeUndefined();
    for (const wait of [DEFAULT_PARK_AFTER_MS, HOUR, 17 * HOUR + 123, 30 * 24 * HOUR, 3 * 365 * 24 * HOUR]) {
      const runAt = T0 + wait;
      const slot = parkSlotFor(runAt, T0, DEFAULT_PARK_AFTER_MS)!;
      expect(slot.start).toBeLessThanOrEqual(runAt);
      expect(runAt).toBeLessThan(slot.start + slot.width);
      // A power of two of minutes, at most 1/16 of the wait (at least a minute), at most 2^16 minutes.
      expect(Math.log2(slot.width / MINUTE) % 1).toBe(0);
      expect(slot.width).toBeLessThanOrEqual(Math.max(MINUTE, wait / 16));
      expect(slot.width).toBeLessThanOrEqual(2 ** 16 * MINUTE);
      expect(slot.start % slot.width).toBe(0);
      expect(parseParkSlot(slot.name)).toEqual(slot);
    }
    expect(parkSlotFor(T0 + HOUR, T0, DEFAULT_PARK_AFTER_MS)!.width).toBe(2 * MINUTE);
  });

  it('rejects a parkAfterMs below the tick move-ahead window, naming what it expects', () => {
    expect(validateParkAfterMs(undefined)).toBe(DEFAULT_PARK_AFTER_MS);
    expect(validateParkAfterMs(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    for (const bad of [1000, 179_999, 1.5e6 + 0.5, '600000', Number.NaN]) {
      expect(() => validateParkAfterMs(bad)).toThrow(ValidationError);
    }
    expect(() => validateParkAfterMs(1000)).toThrow(/parkAfterMs.*at least 180000.*retrying will not help/);
  });
});

describe('parking', () => {
  const fixture = schedulerFixture(T0);
  const { setup } = fixture;

  async function parkedState(k: ReturnType<typeof setup>['k'], handler = 'h') {
    const redis = fixture.redis;
    const slots = await redis.zrange(k.parked(handler), 0, -1);
    const lists: Record<string, string[]> = {};
    for (const slot of slots) lists[slot] = await redis.lrange(k.parkedSlot(handler, slot), 0, -1);
    return { count: Number((await redis.hget(k.parkedCount, handler)) ?? 0), lists };
  }

  it('a one-off job due in an hour waits in a slot list, not in delayed, and shows as scheduled', async () => {
    const { tasks, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', delayMs: HOUR, payload: { n: 1 } });
    const slot = parkSlotFor(T0 + HOUR, T0, DEFAULT_PARK_AFTER_MS)!;
    expect(await fixture.redis.zcard(k.delayed('h'))).toBe(0);
    expect(await parkedState(k)).toEqual({ count: 1, lists: { [slot.name]: [id] } });
    expect(await fixture.redis.zscore(k.parked('h'), slot.name)).toBe(String(slot.start));
    expect(await tasks.get(id)).toMatchObject({
      state: 'scheduled',
      parked: true,
      runAt: new Date(T0 + HOUR),
      payload: { n: 1 },
      idempotencyKey: `${id}:${T0 + HOUR}:0`,
    });
    expect((await tasks.stats()).byHandler.h).toMatchObject({ scheduled: 1, due: 0 });
  });

  it('series, near jobs and a producer with parkAfterMs Infinity never park', async () => {
    const { tasks, k } = setup();
    await tasks.schedule({ handler: 'h', everyMs: 2 * HOUR });
    await tasks.schedule({ handler: 'h', cron: '0 0 1 1 *' });
    await tasks.schedule({ handler: 'h', delayMs: DEFAULT_PARK_AFTER_MS - 1 });
    const never = new Scheduler({
      redis: fixture.redis,
      namespace: tasks.engine.namespace,
      now: () => T0,
      parkAfterMs: Number.POSITIVE_INFINITY,
    });
    await never.schedule({ handler: 'h', delayMs: 100 * HOUR });
    expect(await fixture.redis.zcard(k.delayed('h'))).toBe(4);
    expect(await fixture.redis.exists(k.parked('h'), k.parkedCount)).toBe(0);
  });

  it('TICKSET_PARK_AFTER_MS sets the threshold of Scheduler.fromEnv; a bad value fails before connecting', async () => {
    const namespace = `parking-env-${Math.random().toString(36).slice(2)}`;
    const env = { TICKSET_REDIS_URL: redisUrl(), TICKSET_NAMESPACE: namespace };
    const never = await Scheduler.fromEnv({ ...env, TICKSET_PARK_AFTER_MS: 'Infinity' }, { now: () => T0 });
    const soon = await Scheduler.fromEnv({ ...env, TICKSET_PARK_AFTER_MS: '180000' }, { now: () => T0 });
    try {
      await never.schedule({ handler: 'h', delayMs: 100 * HOUR });
      await soon.schedule({ handler: 'h', delayMs: 4 * MINUTE });
      const k = never.engine.keys(0);
      expect(await fixture.redis.zcard(k.delayed('h'))).toBe(1);
      expect(await fixture.redis.hget(k.parkedCount, 'h')).toBe('1');
    } finally {
      await never.close();
      await soon.close();
    }
    await expect(Scheduler.fromEnv({ ...env, TICKSET_PARK_AFTER_MS: '10s' })).rejects.toThrow(
      /Invalid parkAfterMs: got NaN; expected an integer of at least 180000/,
    );
  });

  it('the tick moves a slot into delayed MOVE_AHEAD_MS before it starts, and the job runs once, on time', async () => {
    let now = T0;
    const { tasks, e, k } = setup(() => now);
    const { id } = await tasks.schedule({ handler: 'h', at: T0 + 5 * HOUR, payload: 'later' });
    const { start } = parkSlotFor(T0 + 5 * HOUR, T0, DEFAULT_PARK_AFTER_MS)!;
    const publisher = new RecordingPublisher(() => now);
    const loop = new TickLoop({ engine: e, publisher, now: () => now });

    now = start - MOVE_AHEAD_MS - 1;
    expect((await loop.pass()).unparked).toBe(0);
    expect(await parkedState(k)).toMatchObject({ count: 1 });

    now = start - MOVE_AHEAD_MS;
    expect((await loop.pass()).unparked).toBe(1);
    expect(await fixture.redis.zscore(k.delayed('h'), id)).toBe(String(T0 + 5 * HOUR));
    expect(await parkedState(k)).toEqual({ count: 0, lists: {} });
    expect(await tasks.get(id)).toMatchObject({ state: 'scheduled', runAt: new Date(T0 + 5 * HOUR) });
    expect((await tasks.get(id))?.parked).toBeUndefined();

    now = T0 + 5 * HOUR - 1;
    await loop.pass();
    expect(publisher.ids()).toEqual([]);
    now = T0 + 5 * HOUR;
    await loop.pass();
    await loop.pass();
    expect(publisher.published.map((p) => [p.task.id, p.task.idempotencyKey, p.at])).toEqual([
      [id, `${id}:${T0 + 5 * HOUR}:0`, T0 + 5 * HOUR],
    ]);
  });

  it('a cancelled parked job leaves a stale entry that the move drops', async () => {
    const { tasks, e, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', delayMs: HOUR, key: 'gone' });
    const kept = await tasks.schedule({ handler: 'h', delayMs: HOUR });
    expect(await tasks.cancel('gone')).toBe(true);
    expect((await parkedState(k)).count).toBe(1);
    expect((await tasks.stats()).byHandler.h?.scheduled).toBe(1);
    expect(await e.advanceParked(0, ['h'], T0 + HOUR)).toBe(1);
    expect(await fixture.redis.zrange(k.delayed('h'), 0, -1)).toEqual([kept.id]);
    expect(await fixture.redis.hexists(k.jobs, id)).toBe(0);
    expect(await parkedState(k)).toEqual({ count: 0, lists: {} });
  });

  it('upserts between parked and queued keep one copy of the job and an exact count', async () => {
    let now = T0;
    const { tasks, e, k } = setup(() => now);
    const { id } = await tasks.schedule({ handler: 'h', delayMs: 3 * HOUR, key: 'k', payload: 1 });
    // Parked → another slot: two entries, one parked job.
    await tasks.schedule({ handler: 'h', delayMs: 10 * HOUR, key: 'k', payload: 2 });
    expect((await parkedState(k)).count).toBe(1);
    expect(Object.values((await parkedState(k)).lists).flat()).toEqual([id, id]);
    // Parked → queued: no parked job left; the old entries are stale.
    await tasks.schedule({ handler: 'h', delayMs: 5 * MINUTE, key: 'k', payload: 3 });
    expect((await parkedState(k)).count).toBe(0);
    expect(await fixture.redis.zscore(k.delayed('h'), id)).toBe(String(T0 + 5 * MINUTE));
    // Queued → parked: out of delayed, parked once more.
    await tasks.schedule({ handler: 'h', delayMs: 10 * HOUR + 30_000, key: 'k', payload: 4 });
    expect(await fixture.redis.zscore(k.delayed('h'), id)).toBeNull();
    expect((await parkedState(k)).count).toBe(1);
    // Moving every slot moves the job once, at its latest time; the older entries are dropped.
    expect(await e.advanceParked(0, ['h'], T0 + 11 * HOUR)).toBe(1);
    expect(await fixture.redis.zrange(k.delayed('h'), 0, -1, 'WITHSCORES')).toEqual([
      id,
      String(T0 + 10 * HOUR + 30_000),
    ]);
    expect(await parkedState(k)).toEqual({ count: 0, lists: {} });
    now = T0 + 10 * HOUR + 30_000;
    const { tasks: claimed } = await promoteClaim(e, [spec('h')], now);
    expect(claimed.map((t) => [t.id, t.payload, t.idempotencyKey])).toEqual([[id, 4, `${id}:${now}:3`]]);
  });

  it('entries of jobs that are not parked here are dropped: queued, ready, in flight, dead, elsewhere', async () => {
    const { tasks, e, k } = setup();
    const redis = fixture.redis;
    const slot = parkSlotFor(T0 + HOUR, T0, DEFAULT_PARK_AFTER_MS)!;
    // Five jobs due inside one slot, moved into delayed; then four are put where a job can be instead of
    // parked (as upserts, claims and failures would), and one is parked again, alone in the slot's list.
    const [queued, ready, running, dead, parked] = (
      await tasks.scheduleMany([0, 1, 2, 3, 4].map((i) => ({ handler: 'h', at: slot.start + i })))
    ).map((r) => r.id);
    expect(await e.advanceParked(0, ['h'], slot.start)).toBe(5);
    await redis.zrem(k.delayed('h'), ready!, running!, dead!, parked!);
    await redis.zadd(k.delayed('h'), slot.start + 30_000, queued!); // waiting for a retry: later than its due
    await redis.zadd(k.ready('h'), slot.start + 1, ready!);
    await redis.zadd(k.inflight('h'), slot.start + 30_000, running!);
    await redis.zadd(k.dead, slot.start, dead!);
    await redis.hincrby(k.parkedCount, 'h', 1);
    await redis.zadd(k.parked('h'), slot.start, slot.name);
    await redis.rpush(k.parkedSlot('h', slot.name), parked!);
    const other = await tasks.schedule({ handler: 'other', at: slot.start + 5 });
    const elsewhere = await tasks.schedule({ handler: 'h', delayMs: 20 * HOUR });
    // Stale entries for all of them, and for a job of another handler, of another slot, and no job at all.
    const strays = [queued!, ready!, running!, dead!, other.id, elsewhere.id, 'no-such-job'];
    await redis.rpush(k.parkedSlot('h', slot.name), ...strays);
    expect(await e.advanceParked(0, ['h'], slot.start)).toBe(1);
    expect(await redis.zrange(k.delayed('h'), 0, -1, 'WITHSCORES')).toEqual([
      parked!,
      String(slot.start + 4),
      queued!,
      String(slot.start + 30_000),
    ]);
    expect(await redis.zrange(k.ready('h'), 0, -1)).toEqual([ready!]);
    expect(await redis.zrange(k.inflight('h'), 0, -1)).toEqual([running!]);
    expect(await redis.zrange(k.dead, 0, -1)).toEqual([dead!]);
    expect(await redis.exists(k.delayed('other'))).toBe(0);
    expect(await tasks.get(other.id)).toMatchObject({ parked: true }); // in its own handler's slot
    expect(await parkedState(k)).toMatchObject({ count: 1 }); // `elsewhere`, in its own slot
    expect(await tasks.get(elsewhere.id)).toMatchObject({ parked: true });
  });

  it('a move interrupted between calls loses nothing: the next pass moves the rest', async () => {
    const { tasks, e, k } = setup();
    const results = await tasks.scheduleMany(
      Array.from({ length: 12 }, (_, i) => ({ handler: 'h', delayMs: HOUR + i, payload: i })),
    );
    const slot = parkSlotFor(T0 + HOUR, T0, DEFAULT_PARK_AFTER_MS)!;
    const keys = [
      k.parkedSlot('h', slot.name),
      k.parked('h'),
      k.jobs,
      k.delayed('h'),
      k.ready('h'),
      k.inflight('h'),
      k.dead,
      k.parkedCount,
      k.handlerCodes,
    ];
    const args = [slot.name, slot.start, slot.start + slot.width, 'h', 5];
    // One call of five, then the process "dies".
    expect(await runScript(fixture.redis, LUA.advanceParked, keys, args)).toEqual([5, 0]);
    expect(await fixture.redis.zcard(k.delayed('h'))).toBe(5);
    expect(await parkedState(k)).toMatchObject({ count: 7 });
    expect((await tasks.stats()).byHandler.h?.scheduled).toBe(12);
    // The next pass (a small batch: several calls) finishes the slot.
    expect(await e.advanceParked(0, ['h'], slot.start, 3)).toBe(7);
    expect(await fixture.redis.zrange(k.delayed('h'), 0, -1)).toEqual(results.map((r) => r.id));
    expect(await parkedState(k)).toEqual({ count: 0, lists: {} });
    await expect(
      runScript(fixture.redis, LUA.advanceParked, keys, [slot.name, 'x', 1, 'h', 5]),
    ).rejects.toThrow(/TICKSET_BAD_ARGS/);
  });

  it('list "scheduled" merges queued and parked jobs in due order', async () => {
    const { tasks, e } = setup();
    const specs = [3 * HOUR, 2 * MINUTE, 30 * 24 * HOUR, HOUR, 5 * MINUTE, 26 * HOUR, HOUR + 1];
    const ids = new Map<number, string>();
    for (const delayMs of specs) ids.set(delayMs, (await tasks.schedule({ handler: 'h', delayMs })).id);
    const sorted = [...specs].sort((a, b) => a - b);
    const all = await listJobs(e, { state: 'scheduled', limit: 100 }, T0);
    expect(all.map((j) => j.id)).toEqual(sorted.map((d) => ids.get(d)));
    expect(all.map((j) => j.parked ?? false)).toEqual(sorted.map((d) => d >= DEFAULT_PARK_AFTER_MS));
    const firstFour = await listJobs(e, { state: 'scheduled', limit: 4 }, T0);
    expect(firstFour.map((j) => j.id)).toEqual(sorted.slice(0, 4).map((d) => ids.get(d)));
  });

  it('list "scheduled" finds the soonest jobs of a slot larger than one page, past stale entries', async () => {
    const { tasks, e } = setup();
    // 2,500 jobs in one slot, scheduled latest first, so the soonest are at the end of the list.
    const results = await tasks.scheduleMany(
      Array.from({ length: 2500 }, (_, i) => ({ handler: 'h', delayMs: HOUR + 2500 - i, payload: i })),
    );
    expect(new Set(Object.keys((await parkedState(e.keys(0))).lists)).size).toBe(1);
    await tasks.cancel(results[2499]!.id); // the soonest: its entry is now stale
    const listed = await listJobs(e, { state: 'scheduled', limit: 3 }, T0);
    expect(listed.map((j) => j.payload)).toEqual([2498, 2497, 2496]);
    expect(listed.every((j) => j.parked)).toBe(true);
  });

  it('parks per shard; one tick pass moves every shard that is due', async () => {
    let now = T0;
    const tasks = new Scheduler({
      redis: fixture.redis,
      namespace: `parking-shards-${Math.random().toString(36).slice(2)}`,
      shards: 4,
      now: () => now,
    });
    const results = await tasks.scheduleMany(
      Array.from({ length: 40 }, (_, i) => ({ handler: 'h', delayMs: 2 * HOUR, key: `k${i}` })),
    );
    const publisher = new RecordingPublisher(() => now);
    const loop = new TickLoop({ engine: tasks.engine, publisher, now: () => now });
    now = T0 + 2 * HOUR;
    expect((await loop.pass()).unparked).toBe(40);
    await loop.pass();
    expect(publisher.ids().sort()).toEqual(results.map((r) => r.id).sort());
    for (let s = 0; s < 4; s++) {
      expect(await fixture.redis.hget(tasks.engine.keys(s).parkedCount, 'h')).toBe('0');
    }
  });
});
