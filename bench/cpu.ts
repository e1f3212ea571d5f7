/**
 * Wall-clock throughput plus CPU cost per job on both sides of the socket: server CPU (INFO cpu) and this
 * process's CPU (process.cpuUsage). Unlike throughput, CPU per job barely moves when other processes
 * share the machine, so it is what before/after comparisons of a change should look at.
 */
import type { BenchRedis } from './redis.js';
import { perSecond } from './stats.js';

export interface CpuCost {
  /** Redis server CPU microseconds per job. */
  readonly redisUs: number;
  /** Client (bench process, or the tick child process) CPU microseconds per job. */
  readonly clientUs: number;
}

export interface Throughput {
  readonly perSecond: number;
  readonly cpu: CpuCost;
}

export interface Measurement {
  /** Ends the measurement of `jobs` jobs. `clientCpuUs` overrides this process's CPU (a child's). */
  stop(jobs: number, clientCpuUs?: number): Promise<Throughput>;
}

export async function measure(redis: BenchRedis): Promise<Measurement> {
  const redisBefore = await redis.cpuSeconds();
  const clientBefore = process.cpuUsage();
  const t0 = performance.now();
  return {
    async stop(jobs, clientCpuUs) {
      const ms = performance.now() - t0;
      const client = process.cpuUsage(clientBefore);
      const redisAfter = await redis.cpuSeconds();
      return {
        perSecond: perSecond(jobs, ms),
        cpu: {
          redisUs: ((redisAfter - redisBefore) * 1e6) / jobs,
          clientUs: (clientCpuUs ?? client.user + client.system) / jobs,
        },
      };
    },
  };
}

/** Runs `fn` and reports its CPU cost per job (for ad-hoc profiling). */
export async function withCpuCost<T>(
  redis: BenchRedis,
  jobs: number,
  fn: () => Promise<T>,
): Promise<{ value: T; cpu: CpuCost }> {
  const m = await measure(redis);
  const value = await fn();
  return { value, cpu: (await m.stop(jobs)).cpu };
}
