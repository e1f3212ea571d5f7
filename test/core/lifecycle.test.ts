import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { newClient, randomNamespace } from '../support/context.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

describe('schedule → promote → claim → ack', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('claims a due job once, with an idempotency key, and ack removes it', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const { id, runAt } = await tasks.schedule({
      handler: 'send-reminder',
      payload: { userId: 42 },
      at: T0 + 1000,
    });
    expect(runAt.getTime()).toBe(T0 + 1000);
    const e = tasks.engine;

    expect(await e.promote(0, ['send-reminder'], now, 100)).toBe(0);
    now = T0 + 1000;
    expect(await e.promote(0, ['send-reminder'], now, 100)).toBe(1);
    const { tasks: claimed } = await e.claim(
      0,
      [{ handler: 'send-reminder', limit: 10, leaseMs: 5000 }],
      now,
    );
    expect(claimed).toHaveLength(1);
    const task = claimed[0]!;
    expect(task).toMatchObject({
      id,
      handler: 'send-reminder',
      payload: { userId: 42 },
      attempt: 1,
      shard: 0,
    });
    // A fresh job has revision 0; an upsert or a replay gets a new one from the shard's seq.
    expect(task.idempotencyKey).toBe(`${id}:${T0 + 1000}:0`);
    expect(task.scheduledFor).toBe(new Date(T0 + 1000).toISOString());
    expect((await tasks.get(id))?.state).toBe('inflight');

    const again = await e.claim(0, [{ handler: 'send-reminder', limit: 10, leaseMs: 5000 }], now);
    expect(again.tasks).toHaveLength(0);

    expect(await e.ack({ ...task, claimToken: 'wrong' })).toBe('stale');
    expect(await e.ack(task)).toBe('acked');
    expect(await tasks.get(id)).toBeUndefined();
    expect(await e.ack(task)).toBe('missing');
  });
});
