/** Pure batching of PutEvents entries: at most N entries and at most M bytes per request. */
import { MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES } from './entry-size.js';

/** Limits of one request. */
export interface BatchLimits {
  /**
   * Most items per batch.
   * @default 10 (PutEvents limit)
   */
  readonly maxEntries?: number;
  /**
   * Most bytes per batch, summing `sizeOf` of its items.
   * @default 262144 (256 KB, PutEvents limit)
   */
  readonly maxBytes?: number;
}

/** The result of {@link planBatches}. */
export interface BatchPlan<T> {
  /** Non-empty batches, in input order; each within both limits. */
  readonly batches: T[][];
  /** Items that alone exceed `maxBytes`: they fit in no batch and must not be sent. In input order. */
  readonly oversized: T[];
}

/**
 * Splits items into request-sized batches, keeping input order (next fit: a batch is closed when the next
 * item would break either limit). Order matters more than the last few percent of packing: the tick claims
 * tasks in due order and the earliest should leave first.
 * @param items the items to send.
 * @param sizeOf size of one item in bytes (for PutEvents: `putEventsEntrySize`).
 * @param limits entries and bytes per batch.
 */
export function planBatches<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  limits: BatchLimits = {},
): BatchPlan<T> {
  const maxEntries = limits.maxEntries ?? MAX_ENTRIES_PER_REQUEST;
  const maxBytes = limits.maxBytes ?? MAX_REQUEST_BYTES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be >= 1`);
  if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be > 0`);

  const batches: T[][] = [];
  const oversized: T[] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (size > maxBytes) {
      oversized.push(item);
      continue;
    }
    if (current.length > 0 && (current.length >= maxEntries || currentBytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(item);
    currentBytes += size;
  }
  if (current.length > 0) batches.push(current);
  return { batches, oversized };
}
