/** shardWake (next-wake.lua): what the tick reads to sleep and to report backlog lag. */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { shardWake } from '../../src/core/engine.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('shardWake', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('reports the next due time, the ready backlog, the next lease expiry and the arm queue', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    expect(await shardWake(e, 0, ['a'], now)).toEqual({ readyBacklog: 0, armPending: 0 });
    await tasks.schedule({ handler: 'a', at: T0 + 5000 });
    await tasks.schedule({ handler: 'b', at: T0 + 3000 });
    await tasks.schedule({ handler: 'b', cron: '0 * * * *' });
    expect(await shardWake(e, 0, ['a', 'b'], now)).toEqual({
      nextDueAt: T0 + 3000,
      readyBacklog: 0,
      armPending: 0,
    });
    now = T0 + 4000;
    await e.promote(0, ['b'], now, 100);
    expect(await shardWake(e, 0, ['a', 'b'], now)).toEqual({
      nextDueAt: T0 + 5000,
      readyBacklog: 1,
      oldestDueAt: T0 + 3000,
      armPending: 0,
    });
    await e.claim(0, [spec('b', 10, { leaseMs: 7000 })], now);
    now = T0 + 3_600_000;
    await promoteClaim(e, [spec('a'), spec('b')], now); // fires the cron series, which needs arming
    const wake = await shardWake(e, 0, ['a', 'b'], now);
    expect(wake).toMatchObject({ readyBacklog: 0, nextLeaseExpiry: T0 + 11_000, armPending: 1 });
  });

  it('oldestDueAt is a due time, not a priority-shifted rank', async () => {
    let now = T0 - 10_000;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    await tasks.schedule({ handler: 'p', at: T0, priority: 100, payload: 'urgent' });
    now = T0;
    await e.promote(0, ['p'], now, 100);
    // Just due: no lag, although its rank is 100 s earlier.
    expect((await shardWake(e, 0, ['p'], now)).oldestDueAt).toBe(T0);

    // An older priority-0 job ranks behind a newer priority-5 job; the oldest due time is still found.
    now = T0 - 10_000;
    await tasks.schedule({ handler: 'q', at: T0 - 3000, payload: 'old' });
    await tasks.schedule({ handler: 'q', at: T0 - 1000, priority: 5, payload: 'new' });
    now = T0;
    await e.promote(0, ['q'], now, 100);
    expect((await shardWake(e, 0, ['q'], now)).oldestDueAt).toBe(T0 - 3000);
    expect((await shardWake(e, 0, ['p', 'q'], now)).oldestDueAt).toBe(T0 - 3000);
  });
});
