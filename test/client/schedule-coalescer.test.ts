/**
 * schedule() coalescing: calls made in one event-loop turn share one schedule.lua call per shard, and
 * each call still gets the result (or error) it would have had on its own.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { KeyHandlerConflictError } from '../../src/errors.js';
import { newClient, randomNamespace } from '../support/context.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('Scheduler.schedule coalescing', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('sends 50 concurrent calls as one script call, and each call gets its own job', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const batches = vi.spyOn(tasks.engine, 'scheduleBatch');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => tasks.schedule({ handler: 'mail', at: T0 + i, payload: { i } })),
    );
    expect(batches).toHaveBeenCalledTimes(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(50);
    for (const [i, r] of results.entries()) {
      expect(r.runAt.getTime()).toBe(T0 + i);
      const job = await tasks.get(r.id);
      expect(job?.payload).toEqual({ i });
    }
  });

  it('keeps call order: of two upserts of one key in a batch, the later one wins', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const [first, second] = await Promise.all([
      tasks.schedule({ handler: 'mail', key: 'k', at: T0 + 1000, payload: 'first' }),
      tasks.schedule({ handler: 'mail', key: 'k', at: T0 + 2000, payload: 'second' }),
    ]);
    expect(second!.id).toBe(first!.id);
    expect(second!.revision).toBeGreaterThan(first!.revision);
    const job = await tasks.get('k');
    expect(job).toMatchObject({ payload: 'second', revision: second!.revision });
    expect(job?.runAt?.getTime()).toBe(T0 + 2000);
  });

  it('fails only the call at fault when one job of a batch conflicts, and writes the others', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    await tasks.schedule({ handler: 'mail', key: 'taken', at: T0 + 1000 });
    const batches = vi.spyOn(tasks.engine, 'scheduleBatch');

    const outcomes = await Promise.allSettled([
      tasks.schedule({ handler: 'mail', key: 'a', at: T0 + 1000, payload: 'a' }),
      tasks.schedule({ handler: 'sms', key: 'taken', at: T0 + 1000 }),
      tasks.schedule({ handler: 'mail', key: 'b', at: T0 + 1000, payload: 'b' }),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(KeyHandlerConflictError);
    // One try as a batch (rejected whole), then one call per job.
    expect(batches).toHaveBeenCalledTimes(4);
    expect((await tasks.get('a'))?.payload).toBe('a');
    expect((await tasks.get('b'))?.payload).toBe('b');
    const taken = await tasks.get('taken');
    expect(taken?.handler).toBe('mail');
  });

  it('rejects every call of a batch when the store fails, and a later batch still works', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const down = new Error('connection lost');
    vi.spyOn(tasks.engine, 'scheduleBatch').mockRejectedValueOnce(down);
    const outcomes = await Promise.allSettled([
      tasks.schedule({ handler: 'mail', at: T0 + 1000 }),
      tasks.schedule({ handler: 'mail', at: T0 + 1000 }),
    ]);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
    ]);
    const later = await tasks.schedule({ handler: 'mail', at: T0 + 1000, payload: 'later' });
    expect((await tasks.get(later.id))?.payload).toBe('later');
  });

  it('with coalesce: false sends one script call per job', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0, coalesce: false });
    const batches = vi.spyOn(tasks.engine, 'scheduleBatch');
    await Promise.all(Array.from({ length: 5 }, () => tasks.schedule({ handler: 'mail', at: T0 + 1000 })));
    expect(batches).toHaveBeenCalledTimes(5);
  });

  it('rejects a validation error before any batching', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const batches = vi.spyOn(tasks.engine, 'scheduleBatch');
    await expect(tasks.schedule({ handler: 'mail' } as never)).rejects.toThrow(/exactly one of at/);
    expect(batches).not.toHaveBeenCalled();
  });
});
