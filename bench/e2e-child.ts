/**
 * One system's end-to-end runs in a process of its own, so that neither system's code (they share
 * ioredis) nor heap affects the other's runs. Warms up with `warmups` unmeasured runs (the JIT and both
 * processes' allocators reach their steady state over a few hundred thousand tasks), then prints one JSON
 * line: the measured runs. Usage: e2e-child.ts <tickset|tickset-batched|bullmq> <redis url> <n> <concurrency>
 * <warmups> <runs> (`tickset-batched`: batched delivery, bench/tickset/e2e.ts).
 */
import { bullmqProcessing } from './bullmq/e2e.js';
import type { Throughput } from './cpu.js';
import { attachBenchRedis } from './redis.js';
import { ticksetEndToEnd } from './tickset/e2e.js';

const [system, url, n, concurrency, warmups, runs] = process.argv.slice(2);
if (!system || !url || !n || !concurrency || !warmups || !runs) {
  throw new Error('usage: e2e-child.ts <tickset|bullmq> <redis url> <n> <concurrency> <warmups> <runs>');
}
const redis = attachBenchRedis(url);
const run: () => Promise<Throughput> =
  system === 'tickset' || system === 'tickset-batched'
    ? () => ticksetEndToEnd(redis, Number(n), Number(concurrency), system === 'tickset-batched')
    : () => bullmqProcessing(redis, Number(n), Number(concurrency), 'wait');
try {
  for (let i = 0; i < Number(warmups); i++) await run();
  const results: Throughput[] = [];
  for (let i = 0; i < Number(runs); i++) results.push(await run());
  process.stdout.write(`${JSON.stringify(results)}\n`);
} finally {
  await redis.stop();
}
