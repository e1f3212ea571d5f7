/** Reads what the chaos run left in Redis after the drain: the dead set, leftovers and keyed effects. */
import { parseState } from '../src/core/codec.js';
import type { Engine } from '../src/core/engine.js';
import { effectKey } from './fleet.js';

export interface DeadEntry {
  readonly id: string;
  readonly failedAt: number;
  readonly attempt: number;
  readonly reason: string;
  readonly error: string;
  readonly handler?: string;
  readonly maxAttempts: number;
  readonly expiresAt?: number;
  /** Armed due time (a series body). */
  readonly runAt?: number;
}

export interface FinalState {
  readonly dead: Map<string, DeadEntry>;
  /** Anything still queued, in flight, waiting to be armed, or a body / claim state without a dead entry. */
  readonly leftovers: string[];
}

export async function readFinalState(engine: Engine): Promise<FinalState> {
  const dead = new Map<string, DeadEntry>();
  const leftovers: string[] = [];
  const redis = engine.redis;
  for (let shard = 0; shard < engine.shards; shard++) {
    const k = engine.keys(shard);
    for (const h of await engine.handlersOf(shard)) {
      for (const [name, key] of [
        ['delayed', k.delayed(h)],
        ['ready', k.ready(h)],
        ['inflight', k.inflight(h)],
      ] as const) {
        const members = await redis.zrange(key, 0, 4);
        if (members.length > 0) {
          leftovers.push(
            `${name}:${h} (shard ${shard}) holds ${await redis.zcard(key)}: ${members.join(', ')}`,
          );
        }
      }
    }
    for (const [h, count] of Object.entries(await redis.hgetall(k.parkedCount))) {
      if (count !== '0') leftovers.push(`parked:${h} (shard ${shard}) holds ${count}`);
    }
    const arm = await redis.smembers(k.arm);
    if (arm.length > 0)
      leftovers.push(`arm (shard ${shard}) holds ${arm.length}: ${arm.slice(0, 5).join(', ')}`);

    const deadRaw = await redis.zrange(k.dead, 0, -1, 'WITHSCORES');
    const ids: string[] = [];
    const failedAt: number[] = [];
    for (let i = 0; i < deadRaw.length; i += 2) {
      ids.push(deadRaw[i]!);
      failedAt.push(Number(deadRaw[i + 1]));
    }
    for (let offset = 0; offset < ids.length; offset += 1000) {
      const chunk = ids.slice(offset, offset + 1000);
      const [bodies, states] = await Promise.all([
        redis.hmget(k.jobs, ...chunk),
        redis.hmget(k.state, ...chunk),
      ]);
      const present: Array<[string, string]> = [];
      chunk.forEach((id, n) => {
        const body = bodies[n];
        if (body) present.push([id, body]);
      });
      const decoded = new Map(
        (await engine.decodeJobs(shard, present)).map((job, n) => [present[n]![0], job.header]),
      );
      chunk.forEach((id, n) => {
        const state = parseState(states[n]);
        const body = bodies[n];
        const header = decoded.get(id);
        dead.set(id, {
          id,
          failedAt: failedAt[offset + n]!,
          attempt: state.attempt,
          reason: state.reason,
          error: state.error,
          ...(header ? { handler: header.h } : {}),
          maxAttempts: header?.m ?? 3,
          ...(header?.x !== undefined ? { expiresAt: header.x } : {}),
          ...(header?.r !== undefined ? { runAt: header.r } : {}),
        });
        if (!body) leftovers.push(`dead member ${id} (shard ${shard}) has no body`);
      });
    }
    const deadIds = new Set(ids);
    const bodies = (await redis.hkeys(k.jobs)).filter((id) => !deadIds.has(id));
    if (bodies.length > 0)
      leftovers.push(
        `jobs (shard ${shard}) holds ${bodies.length} live bodies: ${bodies.slice(0, 5).join(', ')}`,
      );
    const states = (await redis.hkeys(k.state)).filter((id) => !deadIds.has(id));
    if (states.length > 0)
      leftovers.push(
        `state (shard ${shard}) holds ${states.length} claims: ${states.slice(0, 5).join(', ')}`,
      );
  }
  return { dead, leftovers };
}

/** The keyed effect of each idempotency key: the execution seq that wrote it, or null. */
export async function readEffects(
  engine: Engine,
  keys: Iterable<string>,
): Promise<Map<string, string | null>> {
  const all = [...new Set(keys)];
  const out = new Map<string, string | null>();
  for (let offset = 0; offset < all.length; offset += 1000) {
    const chunk = all.slice(offset, offset + 1000);
    const values = await engine.redis.mget(...chunk.map(effectKey));
    chunk.forEach((key, n) => {
      out.set(key, values[n] ?? null);
    });
  }
  return out;
}
