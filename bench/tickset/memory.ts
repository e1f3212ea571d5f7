/** tickset: Redis bytes per scheduled (delayed) job, `used_memory` delta / N on an emptied server. */
import { type ScheduleOptions, Scheduler } from 'tickset';
import type { BenchRedis } from '../redis.js';
import { delayedJob, drive } from './common.js';

/** The producer's connection is closed before the second sample, so client buffers are not counted. */
export async function ticksetBytesPerJob(redis: BenchRedis, n: number): Promise<number> {
  const scheduler = new Scheduler({ redis: redis.url, namespace: 'bench-memory' });
  let closed = false;
  try {
    await scheduler.schedule(delayedJob(0)); // scripts loaded before the baseline
    await redis.flush();
    const before = await redis.settledMemory();
    await drive(n, 1, 1000, async (start, size) => {
      const batch: ScheduleOptions[] = [];
      for (let i = 0; i < size; i++) batch.push(delayedJob(start + i));
      await scheduler.scheduleMany(batch);
    });
    await scheduler.close();
    closed = true;
    const after = await redis.settledMemory();
    return (after - before) / n;
  } finally {
    if (!closed) await scheduler.close();
  }
}
