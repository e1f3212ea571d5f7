import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulidx';

/**
 * Random bytes for ULIDs, drawn from a pool: ulidx's default source calls crypto.getRandomValues once per
 * character (16 calls, ~100 µs, per new millisecond): 4 µs per id at 30 ids/ms, 20 µs at 5 ids/ms (see
 * BENCHMARKS.md). Same source (crypto), same mapping (byte / 255) as ulidx's default.
 */
const randomPool = Buffer.allocUnsafe(4096);
let randomPoolIndex = randomPool.length;
function pooledRandom(): number {
  if (randomPoolIndex === randomPool.length) {
    randomFillSync(randomPool);
    randomPoolIndex = 0;
  }
  return randomPool[randomPoolIndex++]! / 0xff;
}

/**
 * Job ids are ULIDs: 26 characters, lexicographically sortable by creation time and monotonic within
 * one process, so jobs due in the same millisecond keep their FIFO order in a sorted set (members with
 * equal scores sort by member bytes).
 */
const nextUlid = monotonicFactory(pooledRandom);

export function newJobId(): string {
  return nextUlid();
}

/** FNV-1a 32-bit: a stable, cheap hash that picks a job's shard from its key (or id). */
export function shardOf(routingKey: string, shards: number): number {
  if (shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < routingKey.length; i++) {
    hash ^= routingKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** The series id of an occurrence id (`<seriesId>@<ms>`), or the id itself. */
export function seriesIdOf(id: string): string {
  const at = id.indexOf('@');
  return at === -1 ? id : id.slice(0, at);
}
