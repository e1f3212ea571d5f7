/**
 * The idempotency-record writes that are not part of a batch through `Engine` (`beginExecutions`,
 * `completeExecutions`): deleting a failed execution's record, and taking an orphaned one over. Both keep
 * a COMPLETED record: once it exists, the function never runs again for that key.
 */
import type { RedisClient } from '../../redis/connection.js';
import { runScript } from '../script.js';
import { LUA } from '../scripts.generated.js';

/** Deletes the record at `key` unless it is COMPLETED (`idempotency-release.lua`); true when deleted. */
export async function releaseRecord(redis: RedisClient, key: string): Promise<boolean> {
  return (await runScript<number>(redis, LUA.idempotencyRelease, [key], [])) === 1;
}

/**
 * Writes `record` (in progress) at `key` with `ttlSeconds` (or no expiry), unless the record there is
 * COMPLETED (`idempotency-take-over.lua`); true when written.
 */
export async function takeOverRecord(
  redis: RedisClient,
  key: string,
  record: string,
  ttlSeconds: number | undefined,
): Promise<boolean> {
  return (await runScript<number>(redis, LUA.idempotencyTakeOver, [key], [record, ttlSeconds ?? ''])) === 1;
}
