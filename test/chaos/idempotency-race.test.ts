/**
 * Regression tests for a race the chaos run found (the invariant `chaos/invariants.ts` checks:
 * once a completed idempotency record exists, the user function never runs again for that key).
 *
 * Powertools' cache persistence layer takes over an in-progress record whose in-progress expiry passed
 * (an "orphan") in three steps: GET, lock, then a plain SET. When the first execution's completion lands
 * between that GET and SET (its Redis write was delayed, e.g. by a Redis restart), the take-over overwrote
 * the COMPLETED record and ran the function a second time. Likewise a failing execution that had taken over
 * deleted the record when it failed, even if another execution had completed it meanwhile.
 *
 * The interleavings are forced here by wrapping the adapter's `get`, so no timing is involved.
 */
import {
  IdempotencyConfig,
  IdempotencyItemAlreadyExistsError,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/types';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ioredisCacheClient } from '../../src/handler/idempotency.js';
import { newClient, randomNamespace } from '../support/context.js';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

function layer(client: CacheClient, prefix: string): CachePersistenceLayer {
  const store = new CachePersistenceLayer({ client });
  store.configure({
    config: new IdempotencyConfig({ eventKeyJmesPath: 'idempotencyKey', expiresAfterSeconds: 3600 }),
    keyPrefix: prefix,
  });
  return store;
}

/** The adapter, with a hook that runs once right after the first GET has read its (now stale) value. */
function withHookAfterGet(client: CacheClient, hook: () => Promise<void>): CacheClient {
  let fired = false;
  return {
    ...client,
    async get(key) {
      const value = await client.get(key);
      if (!fired) {
        fired = true;
        await hook();
      }
      return value;
    },
  };
}

async function recordKeyOf(prefix: string): Promise<string> {
  const keys = (await redis.keys(`${prefix}#*`)).filter((k) => !k.endsWith(':lock'));
  expect(keys).toHaveLength(1);
  return keys[0]!;
}

async function expireInProgress(key: string): Promise<void> {
  const record = JSON.parse((await redis.get(key))!) as Record<string, unknown>;
  expect(record.status).toBe(IdempotencyRecordStatus.INPROGRESS);
  await redis.set(
    key,
    JSON.stringify({ ...record, in_progress_expiration: Date.now() - 60_000 }),
    'EX',
    3600,
  );
}

describe('idempotency record take-over (CachePersistenceLayer + ioredisCacheClient)', () => {
  it('never overwrites a record completed between the orphan check and the take-over', async () => {
    const prefix = `tickset-idem:${randomNamespace()}`;
    const event = { idempotencyKey: 'job-1:1000:1' };
    const first = layer(ioredisCacheClient(redis), prefix);
    await first.saveInProgress(event, 1_000);
    const key = await recordKeyOf(prefix);
    await expireInProgress(key);

    // A second delivery reads the expired in-progress record; the first execution completes right then.
    const second = layer(
      withHookAfterGet(ioredisCacheClient(redis), () => first.saveSuccess(event, { by: 'first' })),
      prefix,
    );
    await expect(second.saveInProgress(event, 1_000)).rejects.toBeInstanceOf(
      IdempotencyItemAlreadyExistsError,
    );

    const stored = JSON.parse((await redis.get(key))!) as { status: string; data: unknown };
    expect(stored.status).toBe(IdempotencyRecordStatus.COMPLETED);
    expect(stored.data).toEqual({ by: 'first' });
  });

  it('still takes over an orphan that nobody completed', async () => {
    const prefix = `tickset-idem:${randomNamespace()}`;
    const event = { idempotencyKey: 'job-2:1000:1' };
    await layer(ioredisCacheClient(redis), prefix).saveInProgress(event, 1_000);
    const key = await recordKeyOf(prefix);
    await expireInProgress(key);

    await layer(ioredisCacheClient(redis), prefix).saveInProgress(event, 5_000);
    const stored = JSON.parse((await redis.get(key))!) as { status: string; in_progress_expiration: number };
    expect(stored.status).toBe(IdempotencyRecordStatus.INPROGRESS);
    expect(stored.in_progress_expiration).toBeGreaterThan(Date.now());
  });

  it('a failing execution does not delete a record another execution completed', async () => {
    const prefix = `tickset-idem:${randomNamespace()}`;
    const event = { idempotencyKey: 'job-3:1000:1' };
    const first = layer(ioredisCacheClient(redis), prefix);
    await first.saveInProgress(event, 1_000);
    const key = await recordKeyOf(prefix);
    await expireInProgress(key);
    const second = layer(ioredisCacheClient(redis), prefix);
    await second.saveInProgress(event, 1_000); // takes the orphan over
    await first.saveSuccess(event, { by: 'first' }); // the first execution's completion lands late

    await second.deleteRecord(event); // the second execution fails

    const stored = JSON.parse((await redis.get(key)) ?? 'null') as { status: string } | null;
    expect(stored?.status).toBe(IdempotencyRecordStatus.COMPLETED);
  });

  it('a failing execution still releases its own in-progress record', async () => {
    const prefix = `tickset-idem:${randomNamespace()}`;
    const event = { idempotencyKey: 'job-4:1000:1' };
    const store = layer(ioredisCacheClient(redis), prefix);
    await store.saveInProgress(event, 1_000);
    const key = await recordKeyOf(prefix);
    await store.deleteRecord(event);
    expect(await redis.exists(key)).toBe(0);
  });
});
