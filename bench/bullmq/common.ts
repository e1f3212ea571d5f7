/** Shared by the BullMQ figures: connections (its own, per the BullMQ docs), the job shape. */
import type { ConnectionOptions, JobsOptions } from 'bullmq';
import type { BenchRedis } from '../redis.js';
import { payload100 } from '../redis.js';

export const JOB_NAME = 'bench';
export const FUTURE_DELAY_MS = 3_600_000;

/** A producer connection (Queue). */
export function queueConnection(redis: BenchRedis): ConnectionOptions {
  return { host: redis.server.host, port: redis.server.port };
}

/** A Worker gets its own connections and must not give up on blocking commands. */
export function workerConnection(redis: BenchRedis): ConnectionOptions {
  return { host: redis.server.host, port: redis.server.port, maxRetriesPerRequest: null };
}

export function delayedJob(
  i: number,
  delay = FUTURE_DELAY_MS,
): {
  name: string;
  data: ReturnType<typeof payload100>;
  opts: JobsOptions;
} {
  return { name: JOB_NAME, data: payload100(i), opts: { delay } };
}
