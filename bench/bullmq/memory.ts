/** BullMQ: Redis bytes per delayed job, `used_memory` delta / N on an emptied server. */
import { Queue } from 'bullmq';
import type { BenchRedis } from '../redis.js';
import { drive } from '../tickset/common.js';
import { delayedJob, JOB_NAME, queueConnection } from './common.js';

/** The queue's connection is closed before the second sample, so client buffers are not counted. */
export async function bullmqBytesPerJob(redis: BenchRedis, n: number): Promise<number> {
  const queue = new Queue('bench-memory', { connection: queueConnection(redis) });
  let closed = false;
  try {
    await queue.add(JOB_NAME, {}, { delay: 1000 }); // scripts loaded before the baseline
    await redis.flush();
    const before = await redis.settledMemory();
    await drive(n, 1, 1000, async (start, size) => {
      const batch = [];
      for (let i = 0; i < size; i++) batch.push(delayedJob(start + i));
      await queue.addBulk(batch);
    });
    await queue.close();
    closed = true;
    const after = await redis.settledMemory();
    return (after - before) / n;
  } finally {
    if (!closed) await queue.close();
  }
}
