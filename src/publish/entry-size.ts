/**
 * PutEvents entry size, computed the way EventBridge computes it.
 *
 * Reference: "Calculating Amazon EventBridge PutEvents event entry size"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/calculate-putevents-entry-size.html):
 * - `Time`, if specified, counts 14 bytes;
 * - `Source` and `DetailType` count the bytes of their UTF-8 encoded forms;
 * - `Detail`, if specified, counts the bytes of its UTF-8 encoded form;
 * - each `Resources` entry, if specified, counts the bytes of its UTF-8 encoded form.
 *
 * Nothing else counts: not `EventBusName`, not `TraceHeader`, not the JSON envelope of the request.
 */

/** Most entries in one PutEvents request. */
export const MAX_ENTRIES_PER_REQUEST = 10;

/** Most bytes (sum of entry sizes, see {@link putEventsEntrySize}) in one PutEvents request: 256 KB. */
export const MAX_REQUEST_BYTES = 256 * 1024;

/** Bytes `Time` counts for when it is set, whatever its value. */
export const TIME_FIELD_BYTES = 14;

/** The fields of a `PutEventsRequestEntry` that count toward its size. */
export interface SizedPutEventsEntry {
  readonly Time?: Date | undefined;
  readonly Source?: string | undefined;
  readonly DetailType?: string | undefined;
  readonly Detail?: string | undefined;
  readonly Resources?: readonly (string | null | undefined)[] | undefined;
}

function utf8Bytes(value: string | null | undefined): number {
  return value == null ? 0 : Buffer.byteLength(value, 'utf8');
}

/**
 * Size of one PutEvents entry in bytes, as EventBridge counts it against the 256 KB request limit.
 * @param entry a `PutEventsRequestEntry` (or any object with the fields that count).
 * @returns the entry size in bytes.
 */
export function putEventsEntrySize(entry: SizedPutEventsEntry): number {
  let size = entry.Time != null ? TIME_FIELD_BYTES : 0;
  size += utf8Bytes(entry.Source);
  size += utf8Bytes(entry.DetailType);
  size += utf8Bytes(entry.Detail);
  if (entry.Resources != null) {
    for (const resource of entry.Resources) size += utf8Bytes(resource);
  }
  return size;
}
