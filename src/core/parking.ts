/**
 * Parking: one-off jobs due far ahead wait in per-slot Redis LISTs instead of the `delayed` sorted set,
 * and the tick moves a slot's jobs into `delayed` shortly before the slot starts.
 *
 * Why: a sorted-set member costs ~112 bytes (skiplist node, dict entry, member string, bucket), a list
 * entry of a 14-character id ~16. Most scheduled jobs wait far longer than they are due (reminders hours
 * or days ahead), so they need the exact order only near the end. A slot's width grows with how far ahead
 * the job was when it was scheduled (a power of two of minutes, at most 1/16 of the wait), so the number
 * of slots alive at once stays bounded (at most ~32 per width, 17 widths) whatever the spread of due times,
 * and a job enters `delayed` at most 1/16 of its wait (plus `MOVE_AHEAD_MS`) before it is due.
 *
 * Correctness does not depend on clocks: a slot is moved by the first tick pass that sees its start within
 * `MOVE_AHEAD_MS`; a slot written after that (a producer clock far behind the tick's) is moved by the next
 * pass. A list entry is a hint: `advance-parked.lua` moves a job only when it is still a parked one-off
 * job of that handler due inside the slot, so cancel and upsert leave stale entries behind and never scan
 * a list. ARCHITECTURE.md, "Parking", has the keys and the state machine.
 */
import { ValidationError } from '../errors.js';

/** Jobs due at least this far ahead (ms) are parked, unless the producer sets another value. */
export const DEFAULT_PARK_AFTER_MS = 600_000;
/** The smallest `parkAfterMs` a producer may set: a slot must start after the tick's move-ahead window. */
export const MIN_PARK_AFTER_MS = 180_000;
/** The tick moves a slot into `delayed` this long (ms) before the slot starts (a minute-mode tick runs every 60 s). */
export const MOVE_AHEAD_MS = 120_000;
const MINUTE_MS = 60_000;
/** Widest slot: 2^16 minutes (45.5 days). */
const MAX_WIDTH_MS = 2 ** 16 * MINUTE_MS;
/** A slot is at most this fraction of the job's wait wide. */
const WIDTH_DIVISOR = 16;

/** A parking slot: jobs due in [start, start + width). `name` is `<start>+<width>`, its member in the index. */
export interface ParkSlot {
  readonly name: string;
  readonly start: number;
  readonly width: number;
}

/**
 * The slot a job due at `runAt` parks in when scheduled at `now`, or undefined when it goes straight to
 * `delayed` (due sooner than `parkAfterMs`).
 */
export function parkSlotFor(runAt: number, now: number, parkAfterMs: number): ParkSlot | undefined {
  const wait = runAt - now;
  if (!(wait >= parkAfterMs)) return undefined;
  let width = MINUTE_MS;
  while (width * 2 <= wait / WIDTH_DIVISOR && width * 2 <= MAX_WIDTH_MS) width *= 2;
  const start = Math.floor(runAt / width) * width;
  return { name: `${start}+${width}`, start, width };
}

/** Parses a slot name read from a parking index. */
export function parseParkSlot(name: string): ParkSlot {
  const match = /^(\d+)\+(\d+)$/.exec(name);
  if (!match) throw new Error(`not a parking slot name: ${JSON.stringify(name)}`);
  return { name, start: Number(match[1]), width: Number(match[2]) };
}

/** Checks a producer's `parkAfterMs` option. */
export function validateParkAfterMs(value: unknown): number {
  if (value === undefined) return DEFAULT_PARK_AFTER_MS;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_PARK_AFTER_MS) {
    throw new ValidationError(
      'parkAfterMs',
      value,
      `an integer of at least ${MIN_PARK_AFTER_MS} (ms), or Infinity to never park`,
    );
  }
  return value;
}
