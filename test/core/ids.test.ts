/** Job ids: 14 characters, sortable by due time then creation, unique where it matters (a collision is retried). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import { ID_TIME_MAX_MS, idTimeOf, newJobId, shardOf } from '../../src/core/ids.js';
import { prepareJob } from '../../src/core/prepare.js';
import { runScript } from '../../src/core/script.js';
import { LUA } from '../../src/core/scripts.generated.js';
import { IdCollisionError } from '../../src/errors.js';
import type { RedisClient } from '../../src/redis/connection.js';
import { newClient, randomNamespace, snapshotNamespace } from '../support/context.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

describe('job ids', () => {
  it('are 14 characters without "@", carry the due time and sort by due time, then creation', () => {
    const ids = [T0 + 5, T0, T0, T0 + 1, T0, 0, ID_TIME_MAX_MS].map((due) => ({ due, id: newJobId(due) }));
    for (const { due, id } of ids) {
      expect(id).toMatch(/^[0-9A-Za-z]{14}$/);
      expect(idTimeOf(id)).toBe(due);
    }
    const sorted = [...ids].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(sorted.map((x) => x.due)).toEqual([0, T0, T0, T0, T0 + 1, T0 + 5, ID_TIME_MAX_MS]);
    // Same due time: creation order.
    const same = ids.filter((x) => x.due === T0).map((x) => x.id);
    expect([...same].sort()).toEqual(same);
    expect(idTimeOf(newJobId(ID_TIME_MAX_MS + 1000))).toBe(ID_TIME_MAX_MS);
    expect(idTimeOf(`${newJobId(T0)}@${T0 + 60_000}`)).toBe(T0 + 60_000);
    expect(idTimeOf('01JE7Q3Z4X5Y6Z7A8B9C0D1E2F')).toBeUndefined();
  });
});

describe('id collisions', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  const context = { now: T0, maxPayloadBytes: 1024 };

  it('schedule.lua rejects a new id that is already a job, before writing anything', async () => {
    const namespace = randomNamespace();
    const engine = new Engine(redis, { namespace });
    const existing = prepareJob({ handler: 'h', at: T0 + 1000, payload: 'first' }, context);
    await engine.scheduleBatch(0, [existing]);
    const before = await snapshotNamespace(redis, namespace);
    const k = engine.keys(0);
    const fresh = prepareJob({ handler: 'h', at: T0 + 2000, payload: 'other' }, context);
    // Both plain jobs (schedule.lua's packed layout): format, 1 group 'h', 2 plain jobs, not parked, their
    // ids, their payloads, no full job.
    const args = [2, 1, 'h', 2, '', fresh.id + existing.id, `\n${fresh.payloadJson}\n"second"`, 0];
    const keys = [k.jobs, k.keys, k.prio, k.state, k.handlers, k.seq, k.dead, k.arm, k.meta];
    keys.push(k.handlerCodes, k.handlerNames, k.parkedCount);
    keys.push(k.delayed('h'), k.ready('h'), k.inflight('h'), k.parked('h'), k.delayed('h'));
    await expect(runScript(redis, LUA.schedule, keys, args)).rejects.toThrow(
      `TICKSET_ID_COLLISION ${existing.id}`,
    );
    expect(await snapshotNamespace(redis, namespace)).toEqual(before);
  });

  it('the engine retries a colliding job with a new id in the same shard', async () => {
    const namespace = randomNamespace();
    const engine = new Engine(redis, { namespace, shards: 8 });
    const existing = prepareJob({ handler: 'h', at: T0 + 1000, payload: 'first' }, context);
    const shard = shardOf(existing.routingKey, 8);
    await engine.scheduleBatch(shard, [existing]);
    const clash = { ...existing, payloadJson: '"second"' };
    const other = prepareJob({ handler: 'h', at: T0 + 1000, payload: 'third' }, context);
    const { results } = await engine.scheduleBatch(shard, [clash, other]);
    expect(results[0]!.id).not.toBe(existing.id);
    expect(shardOf(results[0]!.id, 8)).toBe(shard);
    expect(idTimeOf(results[0]!.id)).toBe(T0 + 1000);
    expect(results[1]!.id).toBe(other.id);
    const k = engine.keys(shard);
    const [first, second] = await redis.hmget(k.jobs, existing.id, results[0]!.id);
    expect(first).toMatch(/\n"first"$/);
    expect(second).toMatch(/\n"second"$/);
    expect(await redis.zcard(k.delayed('h'))).toBe(3);
  });

  it('ids that keep colliding end in IdCollisionError, with nothing written', async () => {
    const namespace = randomNamespace();
    // A client whose schedule calls always report their first id as taken.
    const colliding = new Proxy(redis, {
      get(target, name, receiver) {
        if (name === 'evalsha' || name === 'eval') {
          return async (script: string, numKeys: number, ...rest: Array<string | number>) => {
            if (script === LUA.schedule.sha1 || script === LUA.schedule.lua) {
              // ARGV[3 + 3G] holds the plain jobs' ids, 14 characters each (see schedule.lua).
              const groups = Number(rest[numKeys + 1]);
              const firstId = String(rest[numKeys + 2 + 3 * groups]).slice(0, 14);
              throw new Error(`ERR TICKSET_ID_COLLISION ${firstId}`);
            }
            return (target[name] as (...a: unknown[]) => unknown).call(target, script, numKeys, ...rest);
          };
        }
        return Reflect.get(target, name, receiver);
      },
    }) as unknown as RedisClient;
    const tasks = new Scheduler({ redis: colliding, namespace, now: () => T0 });
    const error = await tasks.schedule({ handler: 'h', delayMs: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdCollisionError);
    expect(error).toMatchObject({ name: 'TicksetIdCollisionError', retryable: true });
    expect(await snapshotNamespace(redis, namespace)).toEqual({});
  });
});
