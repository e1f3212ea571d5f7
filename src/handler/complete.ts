/**
 * Phase 4 of `taskHandler`: complete. Success records "completed" and acks in one script (batched with
 * the other tasks of this turn); a failure releases the execution's record and records the failed
 * attempt (retry or dead); a duplicate delivery acks and returns the stored result. Each outcome's logs
 * and metrics are emitted here.
 */
import { METRICS } from '../config/env.js';
import type { AckOutcome } from '../core/engine.js';
import { releaseRecord as releaseStoredRecord } from '../core/store/idempotency.js';
import { type Delivery, ignore, type WrapperSettings } from './delivery.js';
import { TaskTimeoutError } from './timeout.js';
import type { TaskOutcome } from './types.js';

/**
 * Deletes this execution's in-progress record, so that a retry can run. A COMPLETED record is never
 * deleted (another execution may have completed it meanwhile). A store error here leaves the record in
 * progress: a retry takes it over once its in-progress expiry passes.
 */
export async function releaseRecord(d: Delivery, recordKey: string): Promise<void> {
  await releaseStoredRecord(d.engine.redis, recordKey).catch(ignore);
}

/** Records the failed attempt, then releases the record (when this execution holds it). */
export async function failed<R>(
  w: WrapperSettings,
  d: Delivery,
  error: unknown,
  recordKey: string | undefined,
): Promise<TaskOutcome<R>> {
  const reason = error instanceof TaskTimeoutError ? 'timeout' : 'error';
  const message = error instanceof Error ? error.message : String(error);
  // The failure first, then the record: once the claim has ended, a duplicate delivery of this event is
  // fenced at its start (stale); releasing the record first let one start between the two steps and run
  // the function again for an attempt that was about to be failed. A retry is due only after its backoff,
  // so it does not meet the record still in progress. The record is released even when recording the
  // failure throws; with the store away it stays in progress until its in-progress expiry, as after a crash.
  let out: Awaited<ReturnType<typeof d.engine.fail>>;
  try {
    out = await d.engine.fail(d.detail, { reason, message }, w.now());
  } finally {
    if (recordKey !== undefined) await releaseRecord(d, recordKey);
  }
  w.sink.count(METRICS.failed);
  if (out.outcome === 'retry') {
    w.sink.count(METRICS.retried);
    w.log.warn('task failed; retry scheduled', { ...d.base, reason, error: message, retryAt: out.retryAt });
    return { status: 'retrying', attempt: out.attempt, retryAt: out.retryAt! };
  }
  if (out.outcome === 'dead') {
    w.sink.count(METRICS.deadLettered);
    w.log.error('task failed; dead-lettered', { ...d.base, reason, error: message });
    return { status: 'dead', attempt: out.attempt, reason };
  }
  w.sink.count(METRICS.lateAckRejected);
  w.log.warn('failure not recorded: the claim is stale', { ...d.base, outcome: out.outcome });
  return { status: 'stale' };
}

/**
 * A delivery whose function already ran for this key: ack its claim, return the stored result. `record`
 * (a COMPLETED record found under the earlier prefix) is copied to the record key in the same call.
 */
export async function duplicate<R>(
  w: WrapperSettings,
  d: Delivery,
  result: R,
  recordKey: string,
  record = '',
): Promise<TaskOutcome<R>> {
  const ack = await d.executions.complete.add({
    shard: d.detail.shard,
    handler: d.detail.handler,
    ttlSeconds: w.ttl,
    id: d.detail.id,
    claimToken: d.detail.claimToken,
    recordKey,
    recordTail: record,
  });
  // The stored result stands whatever this claim's ack says (a redelivery of an acked task finds it
  // gone; a newer claim gets its own duplicate and acks).
  if (ack === 'acked') w.sink.count(METRICS.succeeded);
  w.log.info('duplicate delivery: stored result returned', { ...d.base, ack });
  return { status: 'duplicate', result };
}

/** The ack of a call that finished after its timeout was recorded: rejected, since the claim is gone. */
export function ackLate(w: WrapperSettings, d: Delivery, promise: Promise<unknown>): void {
  promise
    .then(async () => {
      const ack = await d.engine.ack(d.detail);
      if (ack !== 'acked') {
        w.sink.count(METRICS.lateAckRejected);
        w.log.warn('late ack rejected after a timeout', { ...d.base, outcome: ack });
      }
    })
    // A late failure changes nothing; a store error here leaves the job to its lease.
    .catch(ignore);
}

/** Records "completed" and acks, in one script (one call with the other tasks of this turn). */
export async function succeeded<R>(
  w: WrapperSettings,
  d: Delivery,
  recordKey: string,
  result: R,
  recordTail: string,
): Promise<TaskOutcome<R>> {
  const { detail, base } = d;
  let ack: AckOutcome;
  try {
    ack = await d.executions.complete.add({
      shard: detail.shard,
      handler: detail.handler,
      ttlSeconds: w.ttl,
      id: detail.id,
      claimToken: detail.claimToken,
      recordKey,
      recordTail,
    });
  } catch (error) {
    // The batch failed as a whole, so this task's record and ack may not have been written: the attempt
    // fails (when Redis is still away, that throws and the claim is left to its lease). The record stays
    // in progress until its in-progress expiry, exactly as after a crash at this line.
    return await failed(w, d, error, undefined);
  }
  if (ack !== 'acked') {
    w.sink.count(METRICS.lateAckRejected);
    w.log.warn('ack rejected: the claim is stale', { ...base, outcome: ack });
    return { status: 'stale' };
  }
  w.sink.count(METRICS.succeeded);
  // Debug level: no log line per task on success at the default level (the metrics line counts them).
  w.log.debug('task succeeded', base);
  return { status: 'succeeded', result };
}
