/** A describe block's Redis client (opened before its tests, closed after) and Schedulers on it. */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { newClient, randomNamespace } from './context.js';

export interface SchedulerFixture {
  /** The block's client (set once its `beforeAll` has run). */
  readonly redis: Redis;
  /** A Scheduler in a fresh namespace on the block's client, its engine, and shard 0's keys. */
  setup(now?: () => number): {
    tasks: Scheduler;
    e: Scheduler['engine'];
    k: ReturnType<Scheduler['engine']['keys']>;
  };
}

/** Call inside a `describe`: registers the hooks. `setup()`'s clock defaults to a fixed `defaultNow`. */
export function schedulerFixture(defaultNow: number): SchedulerFixture {
  let redis: Redis | undefined;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis?.quit();
  });
  const client = (): Redis => {
    if (!redis) throw new Error('schedulerFixture: the client is opened in beforeAll');
    return redis;
  };
  return {
    get redis() {
      return client();
    },
    setup(now = () => defaultNow) {
      const tasks = new Scheduler({ redis: client(), namespace: randomNamespace(), now });
      return { tasks, e: tasks.engine, k: tasks.engine.keys(0) };
    },
  };
}
