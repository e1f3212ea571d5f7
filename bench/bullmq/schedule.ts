/** BullMQ schedule figures: `addBulk` of delayed jobs, single `add` with N in flight, call latency. */
import { Queue } from 'bullmq';
import { measure, type Throughput } from '../cpu.js';
import type { BenchRedis } from '../redis.js';
import { drive } from '../tickset/common.js';
import { delayedJob, JOB_NAME, queueConnection } from './common.js';

export async function bullmqScheduleBatched(
  redis: BenchRedis,
  n: number,
  batchSize: number,
  inFlight: number,
): Promise<Throughput> {
  const queue = new Queue('bench-batched', { connection: queueConnection(redis) });
  try {
    await queue.add(JOB_NAME, {}, { delay: 1000 }); // connect and load the scripts outside the timing
    await redis.flush();
    const m = await measure(redis);
    await drive(n, inFlight, batchSize, async (start, size) => {
      const batch = [];
      for (let i = 0; i < size; i++) batch.push(delayedJob(start + i));
      await queue.addBulk(batch);
    });
    return await m.stop(n);
  } finally {
    await queue.close();
  }
}

export async function bullmqScheduleSingle(
  redis: BenchRedis,
  n: number,
  inFlight: number,
): Promise<Throughput & { latenciesMs: number[] }> {
  const queue = new Queue('bench-single', { connection: queueConnection(redis) });
  try {
    await queue.add(JOB_NAME, {}, { delay: 1000 });
    await redis.flush();
    const latenciesMs: number[] = [];
    const m = await measure(redis);
    await drive(n, inFlight, 1, async (i) => {
      const job = delayedJob(i);
      const start = performance.now();
      await queue.add(job.name, job.data, job.opts);
      latenciesMs.push(performance.now() - start);
    });
    return { ...(await m.stop(n)), latenciesMs };
  } finally {
    await queue.close();
  }
}
