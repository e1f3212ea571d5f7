/**
 * tickset: Redis bytes per scheduled (delayed) job, `used_memory` delta / N on an emptied server. The jobs
 * are due in 1 h (parked: ARCHITECTURE.md, "Parking"), or with `queued`, in 5 min (in the sorted set).
 */
import { type ScheduleOptions, Scheduler } from 'tickset';
import type { BenchRedis } from '../redis.js';
import { delayedJob, drive } from './common.js';

/** Sooner than tickset parks a job (10 min by default). */
const NEAR_DELAY_MS = 300_000;

/** The producer's connection is closed before the second sample, so client buffers are not counted. */
export async function ticksetBytesPerJob(redis: BenchRedis, n: number, queued = false): Promise<number> {
  const scheduler = new Scheduler({ redis: redis.url, namespace: 'bench-memory' });
  let closed = false;
  try {
    await scheduler.schedule(delayedJob(0)); // scripts loaded before the baseline
    await redis.flush();
    const before = await redis.settledMemory();
    await drive(n, 1, 1000, async (start, size) => {
      const batch: ScheduleOptions[] = [];
      for (let i = 0; i < size; i++) {
        const job = delayedJob(start + i);
        batch.push(queued ? { ...job, delayMs: NEAR_DELAY_MS } : job);
      }
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
