/**
 * Start fencing in the local runtime on a real Redis: a task claimed and waiting for a free handler slot,
 * then cancelled, never starts (no handler starts after `cancel()` returned true for its task).
 */

import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import type { TaskOutcome } from '../../src/handler/task-handler.js';
import { startLocal } from '../../src/local/start-local.js';
import { eventually, newClient, randomNamespace, redisUrl } from '../support/context.js';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('start fencing (local runtime)', () => {
  it('a claimed task waiting for a slot and cancelled meanwhile never starts', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const started: string[] = [];
    const outcomes: Array<{ id: string; outcome: TaskOutcome<unknown> | { status: 'error' } }> = [];
    const firstRunning = gate();
    const release = gate();
    const runtime = startLocal({
      redis: redisUrl(),
      namespace,
      concurrency: 1,
      leaseMs: 30_000,
      handlers: {
        work: async (task) => {
          started.push(task.id);
          if (started.length === 1) {
            firstRunning.open();
            await release.promise;
          }
        },
      },
      onOutcome: (task: TaskEventDetail, outcome) => outcomes.push({ id: task.id, outcome }),
    });
    try {
      const now = Date.now();
      const first = await scheduler.schedule({ handler: 'work', payload: { n: 1 }, at: now });
      const second = await scheduler.schedule({ handler: 'work', payload: { n: 2 }, at: now + 1 });
      await firstRunning.promise;
      expect(started).toEqual([first.id]);
      // The second task is claimed (in flight) and queued in the runtime, behind the blocked first one.
      await eventually(async () => (await scheduler.get(second.id))?.state === 'inflight', 10_000);
      expect(await scheduler.cancel(second.id)).toBe(true);
      release.open();
      await eventually(() => outcomes.length === 2, 10_000);
      expect(started).toEqual([first.id]);
      expect(outcomes.find((o) => o.id === second.id)?.outcome).toEqual({
        status: 'stale',
        reason: 'cancelled',
      });
      expect(runtime.metrics.get('StaleStartRejected')).toBe(1);
    } finally {
      await runtime.stop();
    }
  });
});

describe('rate limit (local runtime)', () => {
  it('perSecond 5 over 2 shards bounds starts: no sliding second holds more than 5 starts of the function; all 30 run', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace, shards: 2 });
    const starts: number[] = [];
    const runtime = startLocal({
      redis: redisUrl(),
      namespace,
      shards: 2,
      rateLimits: { api: { perSecond: 5 } },
      handlers: { api: () => void starts.push(Date.now()) },
    });
    try {
      await scheduler.scheduleMany(
        Array.from({ length: 30 }, (_, i) => ({ handler: 'api', payload: i, at: 0 })),
      );
      await eventually(() => starts.length >= 30, 30_000);
      const sorted = [...starts].sort((a, b) => a - b);
      let busiest = 0;
      for (let i = 0; i < sorted.length; i++) {
        let j = i;
        while (j < sorted.length && sorted[j]! < sorted[i]! + 1000) j++;
        busiest = Math.max(busiest, j - i);
      }
      expect(busiest).toBeLessThanOrEqual(5);
      expect(starts).toHaveLength(30);
    } finally {
      await runtime.stop();
    }
  });
});
