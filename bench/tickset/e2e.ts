/**
 * tickset end to end: `startLocal` with a no-op handler drains a pre-loaded backlog of due jobs. Every
 * task goes through the whole local path: tick claim, in-process publish, the handler wrapper (event
 * validation, idempotency record, handler, ack). With `batched`, batched delivery: the local publisher hands
 * up to 100 queued tasks of the handler as one batch event, the wrapper runs them all at once (concurrency).
 */
import { startLocal } from 'tickset/local';
import { measure, type Throughput } from '../cpu.js';
import type { BenchRedis } from '../redis.js';
import { HANDLER, preloadDue } from './common.js';

export async function ticksetEndToEnd(
  redis: BenchRedis,
  n: number,
  concurrency: number,
  batched = false,
): Promise<Throughput> {
  const namespace = 'bench-e2e';
  await redis.flush();
  await preloadDue(redis.url, namespace, n);
  let done = 0;
  let failed = 0;
  let finish!: () => void;
  const all = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const m = await measure(redis);
  const runtime = startLocal({
    redis: redis.url,
    namespace,
    concurrency,
    handlers: { [HANDLER]: async () => undefined },
    ...(batched ? { batch: { [HANDLER]: { maxTasks: 100, concurrency } } } : {}),
    onOutcome: (_task, outcome) => {
      if (outcome.status !== 'succeeded') failed++;
      if (++done === n) finish();
    },
  });
  try {
    await all;
    const result = await m.stop(n);
    if (failed > 0) throw new Error(`e2e bench: ${failed} of ${n} tasks did not succeed`);
    return result;
  } finally {
    await runtime.stop();
  }
}
