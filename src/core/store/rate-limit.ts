/**
 * The rate limiter: at most `perSecond` claims of a handler in any sliding 1-second window, over all shards
 * together, timed by one clock (Redis `TIME`). A sliding log of reservations (rate-reserve.lua,
 * rate-settle.lua): before claiming in a shard, the tick reserves what it wants; the claim may run only
 * until the reservation's deadline (claim.lua checks it against Redis TIME); afterwards the tick settles the
 * reservation with the number of jobs claimed and the time of the claim. ARCHITECTURE.md "Rate limits" has
 * the argument why no window can hold more than the limit.
 *
 * Memory per limited handler: one log member per claim call in the last second (about 30 bytes each).
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../redis/connection.js';
import type { GlobalKeys } from '../keys.js';
import { runScript } from '../script.js';
import { LUA } from '../scripts.generated.js';

/** The window of `perSecond`. */
export const RATE_WINDOW_MS = 1000;

/**
 * How long after a reservation its claim may still run. Longer tolerates slower round trips; the price is
 * that a reservation whose claim result has not been settled yet counts for this much longer.
 * @default 200
 */
export const DEFAULT_RATE_GRACE_MS = 200;

/** Claims granted to one claim call. */
export interface RateReservation {
  readonly handler: string;
  /** Claims granted (0 when the window is full). */
  readonly granted: number;
  /** Redis time (ms) after which the claim must not run. */
  readonly deadline: number;
  /** Redis time (ms) of the reservation (0 when nothing was asked for). */
  readonly at: number;
  /** The log member, for `settle` (empty when nothing was granted). */
  readonly member: string;
  /** When less than wanted was granted: the Redis time (ms) at which the window frees; else 0. */
  readonly retryAt: number;
}

type ReserveReply = [number, number, string, number];

export class RateLimiter {
  readonly #redis: RedisClient;
  readonly #keys: GlobalKeys;
  readonly #graceMs: number;

  constructor(redis: RedisClient, keys: GlobalKeys, graceMs = DEFAULT_RATE_GRACE_MS) {
    this.#redis = redis;
    this.#keys = keys;
    this.#graceMs = graceMs;
  }

  /** Reserves up to `wanted` claims of `handler` within `perSecond`. */
  async reserve(handler: string, perSecond: number, wanted: number): Promise<RateReservation> {
    if (wanted <= 0) return { handler, granted: 0, deadline: 0, at: 0, member: '', retryAt: 0 };
    const id = randomBytes(6).toString('base64url');
    const [granted, deadline, member, retryAt] = await runScript<ReserveReply>(
      this.#redis,
      LUA.rateReserve,
      [this.#keys.rateLog(handler)],
      [perSecond, RATE_WINDOW_MS, this.#graceMs, wanted, id],
    );
    return {
      handler,
      granted: Number(granted),
      deadline: Number(deadline),
      at: Number(deadline) - this.#graceMs,
      member,
      retryAt: Number(retryAt),
    };
  }

  /** Records that `used` of the reservation's claims were made at Redis time `claimedAt`; frees the rest. */
  async settle(reservation: RateReservation, used: number, claimedAt: number): Promise<void> {
    if (!reservation.member) return;
    await runScript<number>(
      this.#redis,
      LUA.rateSettle,
      [this.#keys.rateLog(reservation.handler)],
      [reservation.member, used, claimedAt],
    );
  }
}
