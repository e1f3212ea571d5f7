import { randomInt } from 'node:crypto';

/**
 * Job ids: 14 characters, 7 base-62 digits of the job's due time (ms) at creation, then 7 of a per-process
 * counter that starts at a random value and goes up by one per id.
 *
 * Why this shape (see ARCHITECTURE.md, "Job ids"):
 * - 14 characters fit jemalloc's 16-byte class twice per job (the `jobs` field and the `delayed` member):
 *   a 26-character ULID costs 32 bytes in each (BENCHMARKS.md, bytes per job).
 * - Sortable: the digits are in ASCII order, so jobs due in the same millisecond keep their FIFO order within
 *   a process (a sorted set orders equal scores by member bytes).
 * - The body of a fresh job omits its due time: it is the one in the id (`idTimeOf`).
 * - Uniqueness is checked where it matters: `schedule.lua` rejects a new id that is already a job, before
 *   writing anything, and the engine retries with new ids (`skipIdCounter`). A job with an id of time T is
 *   created at or before T and runs at or after T, so a new id can only equal the id of a finished job (whose
 *   idempotency record may still exist) across clock skew between producer and tick, and with the same counter.
 * - Never contains `@` (occurrence ids are `<series id>@<occurrence ms>`).
 */
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DIGITS = 7;
const SPAN = 62 ** DIGITS;
/** Length of a job id. */
export const JOB_ID_LENGTH = 2 * DIGITS;
/**
 * The latest due time an id can hold (2081-08-05): a job due later gets this time in its id and stores its
 * due time in the body.
 */
export const ID_TIME_MAX_MS = SPAN - 1;

const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT_VALUE[ALPHABET.charCodeAt(i)] = i;

function base62(value: number): string {
  let out = '';
  for (let i = 0; i < DIGITS; i++) {
    out = ALPHABET[value % 62]! + out;
    value = Math.floor(value / 62);
  }
  return out;
}

// Started in the lower half, so a process would need ~1.7e12 ids to wrap around (which only costs FIFO order).
let counter = randomInt(0, Math.floor(SPAN / 2));
let lastTime = -1;
let lastPrefix = '';

/** A new job id for a job due at `dueMs`. */
export function newJobId(dueMs: number): string {
  const time = Math.min(Math.max(Math.floor(dueMs), 0), ID_TIME_MAX_MS);
  if (time !== lastTime) {
    lastTime = time;
    lastPrefix = base62(time);
  }
  counter = counter >= ID_TIME_MAX_MS ? 0 : counter + 1;
  return lastPrefix + base62(counter);
}

/** A new job id for a job due at `dueMs` whose id must route to `shard` (its id is its routing key). */
export function newJobIdInShard(dueMs: number, shard: number, shards: number): string {
  for (;;) {
    const id = newJobId(dueMs);
    if (shardOf(id, shards) === shard) return id;
  }
}

/**
 * Moves this process's counter forward by a random step: after a collision, the other process that made
 * the same id is likely to make the next ones too. Forward, so ids of one process stay in creation order.
 */
export function skipIdCounter(): void {
  counter = (counter + randomInt(2 ** 20, 2 ** 36)) % SPAN;
}

/**
 * The due time an id carries: the time digits of a 14-character job id, the occurrence time of an
 * occurrence id (`<series id>@<ms>`), or undefined (a format-1 ULID).
 */
export function idTimeOf(id: string): number | undefined {
  const at = id.indexOf('@');
  if (at !== -1) return Number(id.slice(at + 1));
  if (id.length !== JOB_ID_LENGTH) return undefined;
  let value = 0;
  for (let i = 0; i < DIGITS; i++) {
    const digit = DIGIT_VALUE[id.charCodeAt(i)] ?? -1;
    if (digit < 0) return undefined;
    value = value * 62 + digit;
  }
  return value;
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
