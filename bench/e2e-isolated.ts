/**
 * The end-to-end figure, each run in a child process of its own (`e2e-child.ts`): a fresh process per
 * system and run, warmed up there, so the two systems never share a heap or JIT state (they share ioredis:
 * in one process, each one's runs left the other's ioredis code slower, ~12% for tickset's at steady state).
 */
import { join } from 'node:path';
import { runChildJson } from './child.js';
import type { Throughput } from './cpu.js';
import type { BenchRedis } from './redis.js';

const CHILD = join(import.meta.dirname, 'e2e-child.ts');

export async function isolatedEndToEnd(
  system: 'tickset' | 'tickset-batched' | 'bullmq',
  redis: BenchRedis,
  n: number,
  concurrency: number,
  warmups: number,
): Promise<Throughput> {
  const [result] = await runChildJson<Throughput[]>(CHILD, [
    system,
    redis.url,
    String(n),
    String(concurrency),
    String(warmups),
    '1',
  ]);
  return result!;
}
