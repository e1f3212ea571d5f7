/**
 * Backlog scaling: N jobs due at once, drained by one tick process in a child process (so its RSS is
 * measured alone, not mixed with the bench's own heap of samples and BullMQ objects).
 */
import { join } from 'node:path';
import { runChildJson } from '../child.js';
import type { CpuCost } from '../cpu.js';
import type { BenchRedis } from '../redis.js';
import { perSecond } from '../stats.js';
import { preloadDue } from './common.js';

export interface BacklogRun {
  readonly size: number;
  readonly perSecond: number;
  /** Redis CPU per job over the child's whole life (connect included), and the child's CPU in the pass. */
  readonly cpu: CpuCost;
  /** RSS of the tick process just before the pass, and its peak during the pass (bytes). */
  readonly rssBefore: number;
  readonly rssPeak: number;
  readonly heapPeak: number;
  /** Largest heap right after a major GC during the pass (or after one forced at its end): what it keeps. */
  readonly liveHeapMax: number;
}

const CHILD = join(import.meta.dirname, 'backlog-child.ts');

export async function ticksetBacklog(redis: BenchRedis, size: number): Promise<BacklogRun> {
  const namespace = 'bench-backlog';
  await redis.flush();
  await preloadDue(redis.url, namespace, size);
  const redisCpuBefore = await redis.cpuSeconds();
  const result = await runChildJson<{
    ms: number;
    cpuUs: number;
    rssBefore: number;
    rssPeak: number;
    heapPeak: number;
    liveHeapMax: number;
  }>(CHILD, [redis.url, namespace, String(size)], ['--expose-gc']);
  const redisCpu = (await redis.cpuSeconds()) - redisCpuBefore;
  return {
    size,
    perSecond: perSecond(size, result.ms),
    cpu: { redisUs: (redisCpu * 1e6) / size, clientUs: result.cpuUs / size },
    rssBefore: result.rssBefore,
    rssPeak: result.rssPeak,
    heapPeak: result.heapPeak,
    liveHeapMax: result.liveHeapMax,
  };
}
