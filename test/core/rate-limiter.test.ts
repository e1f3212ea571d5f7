/**
 * The rate limiter's sliding log on its own (rate-reserve.lua, rate-settle.lua): reservations, settling,
 * and the bound, with many claimers at once standing in for shards and ticks.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalKeys } from '../../src/core/keys.js';
import { RateLimiter } from '../../src/core/store/rate-limit.js';
import { newClient, randomNamespace } from '../support/context.js';

async function redisTimeMs(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Largest number of claims in any window [t, t + 1000) over (time, count) records. */
function busiestWindow(records: ReadonlyArray<{ at: number; count: number }>): number {
  const sorted = [...records].sort((a, b) => a.at - b.at);
  let best = 0;
  for (let i = 0; i < sorted.length; i++) {
    let sum = 0;
    for (let j = i; j < sorted.length && sorted[j]!.at < sorted[i]!.at + 1000; j++) sum += sorted[j]!.count;
    best = Math.max(best, sum);
  }
  return best;
}

describe('rate limiter', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('grants up to the limit, then nothing, with the time the window frees', async () => {
    const keys = globalKeys(randomNamespace());
    const limiter = new RateLimiter(redis, keys);
    const first = await limiter.reserve('api', 5, 3);
    expect(first.granted).toBe(3);
    expect(first.retryAt).toBe(0);
    const second = await limiter.reserve('api', 5, 3);
    expect(second.granted).toBe(2);
    // Pending reservations count until reserved at + window + grace.
    expect(second.retryAt).toBeGreaterThan(first.deadline);
    const third = await limiter.reserve('api', 5, 1);
    expect(third).toMatchObject({ granted: 0, member: '' });
    // Another handler has its own budget.
    expect((await limiter.reserve('other', 5, 5)).granted).toBe(5);
  });

  it('settling gives back what the claim did not use, at once', async () => {
    const keys = globalKeys(randomNamespace());
    const limiter = new RateLimiter(redis, keys);
    const r = await limiter.reserve('api', 5, 5);
    expect(r.granted).toBe(5);
    expect((await limiter.reserve('api', 5, 1)).granted).toBe(0);
    await limiter.settle(r, 1, await redisTimeMs(redis));
    expect((await limiter.reserve('api', 5, 10)).granted).toBe(4);
    // The log holds one member per reservation, and expires when the handler is idle.
    expect(await redis.zcard(keys.rateLog('api'))).toBe(2);
    expect(await redis.pttl(keys.rateLog('api'))).toBeGreaterThan(0);
  });

  it('a reservation settled with 0 claims leaves the log', async () => {
    const keys = globalKeys(randomNamespace());
    const limiter = new RateLimiter(redis, keys);
    const r = await limiter.reserve('api', 2, 2);
    await limiter.settle(r, 0, await redisTimeMs(redis));
    expect(await redis.zcard(keys.rateLog('api'))).toBe(0);
    expect((await limiter.reserve('api', 2, 2)).granted).toBe(2);
  });

  it('a pending reservation counts for window + grace, a settled one for the window from its claim', async () => {
    // GIVEN entries written straight into the log, relative to Redis time (grace 1 s)
    const keys = globalKeys(randomNamespace());
    const limiter = new RateLimiter(redis, keys, 1000);
    const now = await redisTimeMs(redis);
    await redis.zadd(
      keys.rateLog('api'),
      now - 1500,
      'pending:2',
      now - 1500,
      'settled:3:s',
      now - 200,
      'recent:1:s',
    );
    // WHEN reserving: the pending one may still have claims up to now - 500, inside a window with new
    // claims; the settled one, claimed at now - 1500, is out of every window that holds new claims
    const r = await limiter.reserve('api', 5, 5);
    // THEN 5 - 2 (pending) - 1 (recent) = 2
    expect(r.granted).toBe(2);
    expect(r.retryAt).toBe(now - 1500 + 1000 + 1000);
  });

  it('many claimers at once: no 1-second window holds more than the limit', async () => {
    // GIVEN 8 claimers (shards of several ticks) hammering one handler limited to 7 per second
    const keys = globalKeys(randomNamespace());
    const limit = 7;
    const clients = Array.from({ length: 4 }, () => newClient());
    const records: Array<{ at: number; count: number }> = [];
    const start = await redisTimeMs(redis);
    // WHEN each reserves, "claims" at the Redis time it reaches (refusing after the deadline, as claim.lua
    // does), and settles, for 2.5 s of Redis time
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const client = clients[i % clients.length]!;
        const limiter = new RateLimiter(client, keys, 50);
        while ((await redisTimeMs(client)) < start + 2500) {
          const r = await limiter.reserve('api', limit, 1 + (i % 3));
          if (r.granted === 0) continue;
          const at = await redisTimeMs(client);
          const used = at <= r.deadline ? r.granted - (i % 2) : 0;
          if (used > 0) records.push({ at, count: used });
          await limiter.settle(r, used, at);
        }
      }),
    );
    await Promise.all(clients.map((c) => c.quit()));
    // THEN the bound holds in every window, and the limiter did let claims through
    expect(busiestWindow(records)).toBeLessThanOrEqual(limit);
    expect(records.reduce((sum, r) => sum + r.count, 0)).toBeGreaterThanOrEqual(limit);
  });
});
