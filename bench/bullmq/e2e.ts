/**
 * BullMQ processing: a `Worker` with a no-op processor drains a pre-loaded backlog of due jobs. `wait`:
 * jobs added without a delay, BullMQ's fastest path (what the bench uses, to be conservative); `delayed`:
 * delayed jobs whose delay has passed (tickset's workload; BullMQ promotes them as it fetches, measured
 * ~8% slower on the bench machine).
 */
import { Queue, Worker } from 'bullmq';
import { measure, type Throughput } from '../cpu.js';
import type { BenchRedis } from '../redis.js';
import { drive } from '../tickset/common.js';
import { delayedJob, queueConnection, workerConnection } from './common.js';

export type DueKind = 'delayed' | 'wait';

export async function bullmqProcessing(
  redis: BenchRedis,
  n: number,
  concurrency: number,
  kind: DueKind = 'delayed',
): Promise<Throughput> {
  const name = 'bench-e2e';
  await redis.flush();
  const queue = new Queue(name, { connection: queueConnection(redis) });
  try {
    await drive(n, 4, 1000, async (start, size) => {
      const batch = [];
      for (let i = 0; i < size; i++) {
        const job = delayedJob(start + i, 1);
        batch.push(kind === 'delayed' ? job : { name: job.name, data: job.data });
      }
      await queue.addBulk(batch);
    });
  } finally {
    await queue.close();
  }
  await new Promise((r) => setTimeout(r, 20)); // every delayed job is due
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const m = await measure(redis);
  const worker = new Worker(name, async () => undefined, {
    connection: workerConnection(redis),
    concurrency,
    autorun: true,
  });
  worker.on('completed', () => {
    if (++done === n) finish();
  });
  worker.on('error', () => undefined);
  try {
    await all;
    return await m.stop(n);
  } finally {
    await worker.close();
  }
}
