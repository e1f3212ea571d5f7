/** Per-test helpers: a client to the run's private Redis, a random namespace, keyspace snapshots. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { Engine, type EngineOptions } from '../../src/core/engine.js';
import type { RedisClient } from '../../src/redis/connection.js';

export function redisUrl(): string {
  return inject('redisUrl');
}

export function newClient(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: null });
}

export function randomNamespace(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export function newEngine(redis: RedisClient, options: EngineOptions = {}): Engine {
  return new Engine(redis, { namespace: randomNamespace(), ...options });
}

/** Every key of a namespace with a dump of its value: equal snapshots mean Redis is unchanged. */
export async function snapshotNamespace(redis: Redis, namespace: string): Promise<Record<string, string>> {
  const keys = [...(await redis.keys(`{${namespace}}:*`)), ...(await redis.keys(`{${namespace}:*`))].sort();
  const out: Record<string, string> = {};
  for (const key of keys) {
    const dump = await redis.dumpBuffer(key);
    out[key] = dump === null ? '' : dump.toString('base64');
  }
  return out;
}

/** Polls `check` until it returns a truthy value or the deadline passes (no fixed sleeps). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  stepMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
