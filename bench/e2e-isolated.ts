/**
 * The end-to-end figure, each run in a child process of its own (`e2e-child.ts`): a fresh process per
 * system and run, warmed up there, so the two systems never share a heap or JIT state (they share ioredis:
 * in one process, each one's runs left the other's ioredis code slower, ~12% for tickset's at steady state).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Throughput } from './cpu.js';
import type { BenchRedis } from './redis.js';

const CHILD = join(import.meta.dirname, 'e2e-child.ts');

export async function isolatedEndToEnd(
  system: 'tickset' | 'bullmq',
  redis: BenchRedis,
  n: number,
  concurrency: number,
  warmups: number,
): Promise<Throughput> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, system, redis.url, String(n), String(concurrency), String(warmups), '1'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`e2e child (${system}) exited with ${code}`);
  const [result] = JSON.parse(out.trim().split('\n').pop()!) as Throughput[];
  return result!;
}
