/** tickset schedule figures: batched `scheduleMany`, single `schedule` with N in flight, call latency. */
import { type ScheduleOptions, Scheduler } from 'tickset';
import { measure, type Throughput } from '../cpu.js';
import type { BenchRedis } from '../redis.js';
import { delayedJob, drive } from './common.js';

export async function ticksetScheduleBatched(
  redis: BenchRedis,
  n: number,
  batchSize: number,
  inFlight: number,
): Promise<Throughput> {
  const scheduler = new Scheduler({ redis: redis.url, namespace: 'bench-batched' });
  try {
    await scheduler.schedule(delayedJob(0)); // connect and load the script outside the timing
    await redis.flush();
    const m = await measure(redis);
    await drive(n, inFlight, batchSize, async (start, size) => {
      const batch: ScheduleOptions[] = [];
      for (let i = 0; i < size; i++) batch.push(delayedJob(start + i));
      await scheduler.scheduleMany(batch);
    });
    return await m.stop(n);
  } finally {
    await scheduler.close();
  }
}

/** `n` single `schedule` calls, `inFlight` at a time; returns throughput and every call's latency (ms). */
export async function ticksetScheduleSingle(
  redis: BenchRedis,
  n: number,
  inFlight: number,
): Promise<Throughput & { latenciesMs: number[] }> {
  const scheduler = new Scheduler({ redis: redis.url, namespace: 'bench-single' });
  try {
    await scheduler.schedule(delayedJob(0));
    await redis.flush();
    const latenciesMs: number[] = [];
    const m = await measure(redis);
    await drive(n, inFlight, 1, async (i) => {
      const start = performance.now();
      await scheduler.schedule(delayedJob(i));
      latenciesMs.push(performance.now() - start);
    });
    return { ...(await m.stop(n)), latenciesMs };
  } finally {
    await scheduler.close();
  }
}
