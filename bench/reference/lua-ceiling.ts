/**
 * The practical ceiling for claiming: a bare Lua script that moves due members from one sorted set to
 * another in batches (ZRANGEBYSCORE + ZADD + ZREM), with no bodies, state or decoding.
 */
import { Redis } from 'ioredis';
import { measure, type Throughput } from '../cpu.js';
import type { BenchRedis } from '../redis.js';

const MOVE = `
local due = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "WITHSCORES", "LIMIT", 0, tonumber(ARGV[2]))
if #due == 0 then return 0 end
local zadd, members = {}, {}
for i = 1, #due, 2 do
  zadd[#zadd + 1] = due[i + 1]
  zadd[#zadd + 1] = due[i]
  members[#members + 1] = due[i]
end
redis.call("ZADD", KEYS[2], unpack(zadd))
redis.call("ZREM", KEYS[1], unpack(members))
return #members
`;

/** A 26-character, time-ordered member like a tickset job id. */
function member(i: number): string {
  return `01KBENCH${i.toString(36).padStart(18, '0')}`;
}

export async function bareLuaCeiling(redis: BenchRedis, n: number, batch = 1000): Promise<Throughput> {
  await redis.flush();
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  try {
    const due = Date.now() - 1000;
    for (let i = 0; i < n; i += 1000) {
      const args: Array<string | number> = [];
      for (let j = i; j < Math.min(n, i + 1000); j++) args.push(due, member(j));
      await client.zadd('{ceiling}:src', ...args);
    }
    const sha = (await client.script('LOAD', MOVE)) as string;
    const now = Date.now();
    let moved = 0;
    const m = await measure(redis);
    for (;;) {
      const count = Number(await client.evalsha(sha, 2, '{ceiling}:src', '{ceiling}:dst', now, batch));
      moved += count;
      if (count < batch) break;
    }
    const result = await m.stop(n);
    if (moved !== n) throw new Error(`ceiling bench: moved ${moved} of ${n}`);
    return result;
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}
