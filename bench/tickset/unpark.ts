/**
 * tickset unpark: the tick's move of parked jobs into their delayed queue (`Engine.advanceParked`), the
 * step a job scheduled 10 min or more ahead takes before promote and claim. N jobs due in 1 h are parked
 * (one slot), then one call moves them all, with the clock at the slot's start.
 */
import { connect, Engine, type ScheduleOptions, Scheduler } from 'tickset';
import { measure, type Throughput } from '../cpu.js';
import type { BenchRedis } from '../redis.js';
import { delayedJob, drive, FUTURE_DELAY_MS, HANDLER } from './common.js';

export async function ticksetUnpark(redis: BenchRedis, n: number): Promise<Throughput> {
  const namespace = 'bench-unpark';
  await redis.flush();
  const scheduler = new Scheduler({ redis: redis.url, namespace });
  try {
    await drive(n, 4, 1000, async (start, size) => {
      const batch: ScheduleOptions[] = [];
      for (let i = 0; i < size; i++) batch.push(delayedJob(start + i));
      await scheduler.scheduleMany(batch);
    });
  } finally {
    await scheduler.close();
  }
  const client = connect(redis.url);
  try {
    const engine = new Engine(client, { namespace });
    const m = await measure(redis);
    const moved = await engine.advanceParked(0, [HANDLER], Date.now() + FUTURE_DELAY_MS);
    const result = await m.stop(n);
    const queued = await client.zcard(engine.keys(0).delayed(HANDLER));
    if (moved !== n || queued !== n)
      throw new Error(`unpark bench: moved ${moved}, queued ${queued} of ${n}`);
    return result;
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}
