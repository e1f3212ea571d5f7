/**
 * BullMQ lateness: delayed jobs and a running `Worker`; the processor records
 * `Date.now() - (job.timestamp + job.opts.delay)` when it starts.
 */
import { Queue, Worker } from 'bullmq';
import type { BenchRedis } from '../redis.js';
import { payload100 } from '../redis.js';
import { JOB_NAME, queueConnection, workerConnection } from './common.js';

export async function bullmqLateness(
  redis: BenchRedis,
  offsetsMs: readonly number[],
  concurrency: number,
): Promise<number[]> {
  const name = 'bench-lateness';
  await redis.flush();
  const samples: number[] = [];
  let finish!: () => void;
  const all = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = new Worker(
    name,
    async (job) => {
      samples.push(Date.now() - (job.timestamp + (job.opts.delay ?? 0)));
      if (samples.length === offsetsMs.length) finish();
    },
    { connection: workerConnection(redis), concurrency, autorun: true },
  );
  worker.on('error', () => undefined);
  const queue = new Queue(name, { connection: queueConnection(redis) });
  try {
    await worker.waitUntilReady();
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now() + 1000;
    for (let i = 0; i < offsetsMs.length; i += 1000) {
      const now = Date.now();
      await queue.addBulk(
        offsetsMs.slice(i, i + 1000).map((offset, j) => ({
          name: JOB_NAME,
          data: payload100(i + j),
          opts: { delay: Math.max(1, t0 + offset - now), timestamp: now },
        })),
      );
    }
    const last = Math.max(...offsetsMs);
    const timeout = setTimeout(finish, t0 + last - Date.now() + 10_000);
    await all;
    clearTimeout(timeout);
    if (samples.length !== offsetsMs.length) {
      throw new Error(`BullMQ lateness bench: ${samples.length} of ${offsetsMs.length} jobs ran`);
    }
    return samples;
  } finally {
    await queue.close();
    await worker.close();
  }
}
