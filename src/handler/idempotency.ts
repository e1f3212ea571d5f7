/**
 * An ioredis adapter for Powertools' cache persistence layer: Powertools calls `set(key, value, { EX, NX })`
 * (node-redis style) and ioredis takes positional arguments. `taskHandler` no longer goes through it (it
 * writes the same records itself, batched, see `executions.ts`); it stays exported for handlers that use
 * Powertools' `makeIdempotent` directly on the same Redis, and for reading tickset's records with Powertools.
 *
 * Two writes are made conditional, so that a COMPLETED record is never lost (once it exists the user
 * function never runs again for that key: the invariant the chaos run checks, `chaos/invariants.ts`). Powertools takes an orphaned in-progress record over with
 * GET, then a plain SET; and it deletes the record of an execution that failed. Either could land after
 * another execution completed the record (its write delayed, e.g. by a Redis restart). Here the take-over
 * refuses a COMPLETED record (`IdempotencyItemAlreadyExistsError`, which Powertools answers with the stored
 * result) and the delete keeps one.
 */
import { IdempotencyItemAlreadyExistsError } from '@aws-lambda-powertools/idempotency';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/types';
import { releaseRecord, takeOverRecord } from '../core/store/idempotency.js';
import type { RedisClient } from '../redis/connection.js';

function isInProgress(text: string): boolean {
  try {
    return (JSON.parse(text) as { status?: unknown }).status === 'INPROGRESS';
  } catch {
    return false;
  }
}

export function ioredisCacheClient(redis: RedisClient): CacheClient {
  return {
    get: (key) => redis.get(key),
    async set(key, value, options) {
      const { EX, NX } = (options ?? {}) as { EX?: number; NX?: boolean };
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      const name = typeof key === 'string' ? key : Buffer.from(key).toString();
      const ttl = EX === undefined ? undefined : Math.max(1, Math.ceil(EX));
      if (!NX && isInProgress(text)) {
        if (!(await takeOverRecord(redis, name, text, ttl))) {
          throw new IdempotencyItemAlreadyExistsError(
            `Idempotency record ${name} was completed by another execution: not taken over`,
          );
        }
        return 'OK';
      }
      if (ttl !== undefined && NX) return redis.set(name, text, 'EX', ttl, 'NX');
      if (ttl !== undefined) return redis.set(name, text, 'EX', ttl);
      if (NX) return redis.set(name, text, 'NX');
      return redis.set(name, text);
    },
    async del(keys) {
      let deleted = 0;
      for (const key of keys) {
        if (await releaseRecord(redis, key)) deleted++;
      }
      return deleted;
    },
  };
}
