/**
 * tickset claim + publish: one tick process drains a pre-loaded backlog of due jobs with `TickLoop.pass()`
 * and a no-op publisher (promote, claim, decode into event details, "publish"). Nothing else runs.
 */
import { connect, Engine, type HandlerLimits, type Publisher } from 'tickset';
import { TickLoop } from 'tickset/tick';
import { measure, type Throughput } from '../cpu.js';
import type { BenchRedis } from '../redis.js';
import { preloadDue } from './common.js';

export function noopPublisher(): Publisher & { published: number } {
  return {
    published: 0,
    async publish(tasks) {
      this.published += tasks.length;
      return { failed: [] };
    },
  };
}

export async function ticksetClaimPublish(
  redis: BenchRedis,
  n: number,
  rateLimits?: Readonly<Record<string, HandlerLimits>>,
): Promise<Throughput> {
  const namespace = 'bench-claim';
  await redis.flush();
  await preloadDue(redis.url, namespace, n);
  const client = connect(redis.url);
  try {
    const engine = new Engine(client, { namespace });
    const publisher = noopPublisher();
    const loop = new TickLoop({ engine, publisher, ...(rateLimits ? { rateLimits } : {}) });
    const m = await measure(redis);
    const stats = await loop.pass();
    const result = await m.stop(n);
    if (stats.published !== n || publisher.published !== n) {
      throw new Error(`claim bench: published ${stats.published}/${publisher.published} of ${n}`);
    }
    return result;
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}
