/**
 * tickset lateness: `startLocal` runs while tasks come due at known times; each handler records
 * `Date.now() - task.scheduledFor` when it starts.
 */
import { type ScheduleOptions, Scheduler } from 'tickset';
import { startLocal } from 'tickset/local';
import type { BenchRedis } from '../redis.js';
import { payload100 } from '../redis.js';
import { HANDLER } from './common.js';

/**
 * `offsetsMs` are due times relative to the start (the same for both systems). Resolves with one lateness
 * sample (ms) per task.
 */
export async function ticksetLateness(
  redis: BenchRedis,
  offsetsMs: readonly number[],
  concurrency: number,
): Promise<number[]> {
  const namespace = 'bench-lateness';
  await redis.flush();
  const samples: number[] = [];
  let finish!: () => void;
  const all = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const runtime = startLocal({
    redis: redis.url,
    namespace,
    concurrency,
    handlers: {
      [HANDLER]: async (task) => {
        samples.push(Date.now() - task.scheduledFor.getTime());
        if (samples.length === offsetsMs.length) finish();
      },
    },
  });
  const scheduler = new Scheduler({ redis: redis.url, namespace });
  try {
    await new Promise((r) => setTimeout(r, 500)); // leader lease taken, wake channel subscribed
    const t0 = Date.now() + 1000;
    const jobs: ScheduleOptions[] = offsetsMs.map((offset, i) => ({
      handler: HANDLER,
      payload: payload100(i),
      at: t0 + offset,
    }));
    for (let i = 0; i < jobs.length; i += 1000) await scheduler.scheduleMany(jobs.slice(i, i + 1000));
    const last = Math.max(...offsetsMs);
    const timeout = setTimeout(finish, t0 + last - Date.now() + 10_000);
    await all;
    clearTimeout(timeout);
    if (samples.length !== offsetsMs.length) {
      throw new Error(`lateness bench: ${samples.length} of ${offsetsMs.length} tasks ran`);
    }
    return samples;
  } finally {
    await scheduler.close();
    await runtime.stop();
  }
}
