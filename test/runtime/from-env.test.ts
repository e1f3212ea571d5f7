/**
 * The composition root (`src/runtime/from-env.ts`): the store config read from the environment the CDK
 * construct sets, checked before any connection is made, and the engine the tick and the handler wrapper
 * build from it (no `Scheduler` involved).
 */
import { describe, expect, inject, it } from 'vitest';
import { Engine } from '../../src/core/engine.js';
import { ValidationError } from '../../src/errors.js';
import { engineFromEnv, storeConfigFromEnv } from '../../src/runtime/from-env.js';
import { randomNamespace } from '../support/context.js';

describe('storeConfigFromEnv', () => {
  it('reads namespace, shards, handlers and the parking threshold, with the defaults when unset', () => {
    expect(storeConfigFromEnv({})).toEqual({ namespace: 'tickset', shards: 1 });
    expect(
      storeConfigFromEnv({
        TICKSET_NAMESPACE: 'orders',
        TICKSET_SHARDS: '4',
        TICKSET_HANDLERS: ' send-reminder, ,sync-device ',
        TICKSET_PARK_AFTER_MS: 'Infinity',
      }),
    ).toEqual({
      namespace: 'orders',
      shards: 4,
      handlers: ['send-reminder', 'sync-device'],
      parkAfterMs: Number.POSITIVE_INFINITY,
    });
  });

  it('rejects a bad parking threshold (engineFromEnv then fails before connecting)', async () => {
    const env = { TICKSET_PARK_AFTER_MS: '10s', TICKSET_REDIS_URL: 'redis://127.0.0.1:1' };
    expect(() => storeConfigFromEnv(env)).toThrow(ValidationError);
    await expect(engineFromEnv(env)).rejects.toThrow(ValidationError);
  });
});

describe('engineFromEnv', () => {
  it('builds an engine over a connection of its own, with the namespace and shards of the environment', async () => {
    const namespace = randomNamespace();
    const engine = await engineFromEnv({
      TICKSET_REDIS_URL: inject('redisUrl'),
      TICKSET_NAMESPACE: namespace,
      TICKSET_SHARDS: '2',
    });
    try {
      expect(engine).toBeInstanceOf(Engine);
      expect(engine.namespace).toBe(namespace);
      expect(engine.shards).toBe(2);
      expect(await engine.redis.ping()).toBe('PONG');
    } finally {
      await engine.redis.quit();
    }
  });
});
