/**
 * Batched delivery through `startLocal` on a real Redis: the local publisher hands queued tasks of one
 * handler and shard to the wrapper as one batch event (the same wrapper code path as a batch from
 * EventBridge). Every task runs once; a failing task is retried alone; unbatched handlers are unchanged.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import type { Task, TaskOutcome } from '../../src/handler/task-handler.js';
import { type LocalRuntime, startLocal } from '../../src/local/start-local.js';
import { eventually, newClient, randomNamespace, redisUrl } from '../support/context.js';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
const runtimes: LocalRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await redis.quit();
});

type Observed = {
  task: TaskEventDetail;
  outcome: TaskOutcome<unknown> | { status: 'error'; error: unknown };
};

describe('startLocal with batched delivery', () => {
  it('2,000 tasks over 2 shards, batched and unbatched handlers: each runs once, all acked', async () => {
    const namespace = randomNamespace('lb');
    const scheduler = new Scheduler({ redis, namespace, shards: 2 });
    const at = Date.now();
    await scheduler.scheduleMany(
      Array.from({ length: 2000 }, (_, i) => ({
        handler: i % 4 === 0 ? 'plain' : 'bulk',
        payload: { i },
        at,
      })),
    );
    const runs = new Map<number, number>();
    const count = (task: Task) => {
      const i = (task.payload as { i: number }).i;
      runs.set(i, (runs.get(i) ?? 0) + 1);
    };
    const outcomes: Observed[] = [];
    const runtime = startLocal({
      redis: redisUrl(),
      namespace,
      shards: 2,
      handlers: { bulk: count, plain: count },
      batch: { bulk: { maxTasks: 50 } },
      onOutcome: (task, outcome) => outcomes.push({ task, outcome }),
    });
    runtimes.push(runtime);
    await eventually(() => outcomes.length === 2000, 20_000);
    expect(outcomes.every((o) => o.outcome.status === 'succeeded')).toBe(true);
    expect(runs.size).toBe(2000);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    const s = await scheduler.stats();
    expect([s.inflight, s.scheduled, s.dead]).toEqual([0, 0, 0]);
  });

  it('a failing task in a batch is retried alone; its siblings succeed once', async () => {
    const namespace = randomNamespace('lb');
    const scheduler = new Scheduler({ redis, namespace });
    const at = Date.now();
    await scheduler.scheduleMany(
      Array.from({ length: 40 }, (_, i) => ({
        handler: 'bulk',
        payload: { i },
        at,
        backoff: { type: 'fixed' as const, delayMs: 1 },
      })),
    );
    const attempts = new Map<number, number>();
    const outcomes: Observed[] = [];
    const runtime = startLocal({
      redis: redisUrl(),
      namespace,
      handlers: {
        bulk: (task: Task) => {
          const i = (task.payload as { i: number }).i;
          attempts.set(i, (attempts.get(i) ?? 0) + 1);
          if (i === 7 && task.attempt === 1) throw new Error('first attempt fails');
        },
      },
      batch: { bulk: { maxTasks: 40 } },
      onOutcome: (task, outcome) => outcomes.push({ task, outcome }),
    });
    runtimes.push(runtime);
    await eventually(() => outcomes.filter((o) => o.outcome.status === 'succeeded').length === 40, 20_000);
    expect(outcomes.filter((o) => o.outcome.status === 'retrying').map((o) => o.task.id)).toHaveLength(1);
    expect(attempts.get(7)).toBe(2);
    expect([...attempts.entries()].filter(([i]) => i !== 7).every(([, n]) => n === 1)).toBe(true);
  });
});
