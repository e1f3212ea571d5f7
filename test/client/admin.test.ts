/**
 * The admin API on `Scheduler` against a real Redis: pause / resume, and replay / purge of dead jobs by id,
 * by key, by handler (optionally older than an age) and all (optionally older than an age); typed errors for
 * bad selectors. The CLI's `pause`, `resume`, `dead replay` and `dead purge` call the same functions.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { pausedHandlers } from '../../src/core/inspect.js';
import { ValidationError } from '../../src/errors.js';
import { newClient, randomNamespace } from '../support/context.js';
import { spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

/**
 * Dead jobs (expired at claim): `a` jobs of handler a and one of b die at T0 + 1; one more of handler a
 * (key "late") dies at T0 + 60 s. The clock is left at T0 + 120 s.
 */
async function deadSet(shards = 2) {
  const clock = { now: T0 };
  const tasks = new Scheduler({ redis, namespace: randomNamespace(), shards, now: () => clock.now });
  const e = tasks.engine;
  const early = await tasks.scheduleMany([
    { handler: 'a', payload: 1, at: T0, expiresAt: T0, key: 'a1' },
    { handler: 'a', payload: 2, at: T0, expiresAt: T0 },
    { handler: 'b', payload: 3, at: T0, expiresAt: T0, key: 'b1' },
  ]);
  const late = await tasks.schedule({
    handler: 'a',
    payload: 4,
    at: T0 + 60_000,
    expiresAt: T0 + 60_000,
    key: 'late',
  });
  const specs = [spec('a'), spec('b')];
  clock.now = T0 + 1;
  for (let s = 0; s < shards; s++) await e.claim(s, specs, clock.now);
  clock.now = T0 + 60_001;
  for (let s = 0; s < shards; s++) await e.claim(s, specs, clock.now);
  clock.now = T0 + 120_000;
  expect((await tasks.stats()).dead).toBe(4);
  return { tasks, clock, ids: { a1: early[0]!.id, a2: early[1]!.id, b1: early[2]!.id, late: late.id } };
}

describe('admin API: pause and resume', () => {
  it('pause / resume a handler: true when it changed; the paused set follows', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace() });
    expect(await tasks.pause('api')).toBe(true);
    expect(await tasks.pause('api')).toBe(false);
    expect([...(await pausedHandlers(tasks.engine))]).toEqual(['api']);
    expect(await tasks.resume('api')).toBe(true);
    expect(await tasks.resume('api')).toBe(false);
    expect([...(await pausedHandlers(tasks.engine))]).toEqual([]);
    await expect(tasks.pause('')).rejects.toThrow(ValidationError);
    await expect(tasks.pause('has space')).rejects.toMatchObject({ field: 'handler' });
  });
});

describe('admin API: dead jobs', () => {
  it('replayDead({ id }) and ({ key }): that job only, due now, attempts reset', async () => {
    const { tasks, ids } = await deadSet();
    expect(await tasks.replayDead({ id: ids.a2 })).toEqual({ count: 1, ids: [ids.a2] });
    expect(await tasks.replayDead({ id: ids.a2 })).toEqual({ count: 0, ids: [] });
    expect(await tasks.replayDead({ key: 'b1' })).toEqual({ count: 1, ids: [ids.b1] });
    expect(await tasks.get(ids.a2)).toMatchObject({ state: 'due', attempt: 0 });
    expect(await tasks.get(ids.b1)).toMatchObject({ state: 'due', attempt: 0 });
    // An id passed as a key (and a key as an id) selects nothing.
    expect(await tasks.replayDead({ key: ids.a1 })).toEqual({ count: 0, ids: [] });
    expect(await tasks.replayDead({ id: 'a1' })).toEqual({ count: 0, ids: [] });
    expect((await tasks.stats()).dead).toBe(2);
  });

  it('replayDead({ handler, olderThanMs }) and ({ all: true }): by handler and age, over all shards', async () => {
    const { tasks, ids } = await deadSet();
    // Died at T0 + 1 (119.999 s ago) and T0 + 60 s (60 s ago): older than 90 s is the first batch only.
    const older = await tasks.replayDead({ handler: 'a', olderThanMs: 90_000 });
    expect([...older.ids].sort()).toEqual([ids.a1, ids.a2].sort());
    expect(await tasks.get(ids.late)).toMatchObject({ state: 'dead' });
    expect(await tasks.get(ids.b1)).toMatchObject({ state: 'dead' });
    const all = await tasks.replayDead({ all: true });
    expect([...all.ids].sort()).toEqual([ids.b1, ids.late].sort());
    expect((await tasks.stats()).dead).toBe(0);
  });

  it('purgeDead: by id, by key, by handler and age, all with an age, all', async () => {
    const { tasks, ids } = await deadSet();
    expect(await tasks.purgeDead({ id: ids.a2 })).toEqual({ count: 1, ids: [ids.a2] });
    expect(await tasks.get(ids.a2)).toBeUndefined();
    expect(await tasks.purgeDead({ key: 'a1' })).toEqual({ count: 1, ids: [ids.a1] });
    // The key mapping went with it.
    expect(await tasks.get('a1')).toBeUndefined();
    expect(await tasks.purgeDead({ handler: 'a', olderThanMs: 90_000 })).toEqual({ count: 0, ids: [] });
    expect(await tasks.purgeDead({ all: true, olderThanMs: 90_000 })).toEqual({ count: 1, ids: [ids.b1] });
    expect(await tasks.purgeDead({ handler: 'b' })).toEqual({ count: 0, ids: [] });
    expect(await tasks.purgeDead({ handler: 'a' })).toEqual({ count: 1, ids: [ids.late] });
    expect(await tasks.purgeDead({ all: true })).toEqual({ count: 0, ids: [] });
    expect((await tasks.stats()).dead).toBe(0);
  });

  it('a handler filter pages past other handlers’ dead jobs (more than one page)', async () => {
    const clock = { now: T0 };
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => clock.now });
    await tasks.scheduleMany(
      Array.from({ length: 1200 }, (_, i) => ({
        handler: i % 3 === 0 ? 'x' : 'y',
        payload: i,
        at: T0,
        expiresAt: T0,
      })),
    );
    clock.now = T0 + 1;
    await tasks.engine.claim(0, [spec('x', 2000), spec('y', 2000)], clock.now);
    expect((await tasks.purgeDead({ handler: 'x' })).count).toBe(400);
    expect((await tasks.stats()).dead).toBe(800);
    expect((await tasks.replayDead({ handler: 'y' })).count).toBe(800);
  });

  it('bad selectors throw ValidationError naming the field', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace() });
    const bad: Array<[unknown, string]> = [
      [{}, 'selector'],
      [{ id: 'x', key: 'y' }, 'selector'],
      [{ id: '' }, 'selector.id'],
      [{ all: false }, 'selector.all'],
      [{ handler: 'a', olderThanMs: -1 }, 'selector.olderThanMs'],
      [{ id: 'x', olderThanMs: 5 }, 'selector.olderThanMs'],
    ];
    for (const [selector, field] of bad) {
      await expect(tasks.replayDead(selector as never)).rejects.toMatchObject({
        name: 'TicksetValidationError',
        field,
      });
      await expect(tasks.purgeDead(selector as never)).rejects.toMatchObject({ field });
    }
  });
});
