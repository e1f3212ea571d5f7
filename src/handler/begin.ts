/**
 * Phase 2 of `taskHandler`: begin. Decides whether the function runs for this delivery:
 *
 * - a task of another handler than the one this function serves is dead-lettered (`unknown-handler`);
 * - the idempotency record is written "in progress" (one script call with the other tasks of this turn),
 *   unless the function already ran for this key (its stored result is returned: a duplicate) or is
 *   running elsewhere (skipped). Records written before they moved into the shard's slot are looked up
 *   alongside, in parallel (ARCHITECTURE.md, "Upgrading"); only a redelivery can find one, since a first
 *   delivery built in this process was claimed after the upgrade.
 *
 * - start fencing, in the same script and before the record: the task must exist, be in flight and hold
 *   this event's claim token; otherwise (cancelled, superseded, or a token that is not a claim's) the
 *   delivery is a stale start: acknowledged without running and never retried (ARCHITECTURE.md).
 *
 * A check that must pass before the function starts belongs here.
 */
import type { Context } from 'aws-lambda';
import { METRICS } from '../config/env.js';
import type { BeginOutcome, StaleStartReason } from '../core/engine.js';
import { duplicate, failed, releaseRecord } from './complete.js';
import type { Delivery, WrapperSettings } from './delivery.js';
import { recordKeyOf, recordState, storedResult } from './executions.js';
import type { TaskOutcome } from './types.js';

/** Run the function (its record is in progress under `recordKey`), or the delivery's outcome without it. */
export type Begun<R> =
  | { readonly run: true; readonly recordKey: string }
  | { readonly run: false; readonly outcome: TaskOutcome<R> };

export async function begin<R>(
  w: WrapperSettings,
  d: Delivery,
  local: boolean,
  context: Context | undefined,
): Promise<Begun<R>> {
  const { engine, detail, base } = d;
  if (w.handler !== undefined && detail.handler !== w.handler) {
    const out = await engine.fail(
      detail,
      {
        reason: 'unknown-handler',
        message: `delivered to "${w.handler}", which does not handle "${detail.handler}"`,
      },
      w.now(),
      { retry: false },
    );
    w.sink.count(METRICS.deadLettered);
    w.log.error('task dead-lettered: unknown handler', base);
    return {
      run: false,
      outcome:
        out.outcome === 'dead'
          ? { status: 'dead', attempt: out.attempt, reason: 'unknown-handler' }
          : { status: 'stale' },
    };
  }
  const recordKey = recordKeyOf(engine.keys(detail.shard).idempotencyPrefix, detail.idempotencyKey);
  const runFor = context ? context.getRemainingTimeInMillis() : (w.timeoutMs ?? 60_000);
  const legacyKey =
    w.legacyRecords && (detail.attempt > 1 || !local)
      ? recordKeyOf(engine.global.legacyIdempotencyPrefix, detail.idempotencyKey)
      : undefined;
  let begun: BeginOutcome;
  let legacy: string | null = null;
  try {
    const beginning = d.executions.begin.add({
      shard: detail.shard,
      handler: detail.handler,
      id: detail.id,
      claimToken: detail.claimToken,
      ttlSeconds: w.ttl,
      runForMs: runFor,
      recordKey,
    });
    if (legacyKey === undefined) begun = await beginning;
    else [begun, legacy] = await Promise.all([beginning, engine.redis.get(legacyKey)]);
  } catch (error) {
    // The function has not run. A record this step may have written stays in progress until its
    // in-progress expiry, exactly as after a crash here.
    return { run: false, outcome: await failed(w, d, error, undefined) };
  }
  if (begun.status === 'stale') return { run: false, outcome: staleStart(w, d, begun.reason) };
  if (begun.status === 'completed')
    return { run: false, outcome: await duplicate(w, d, storedResult(begun.record) as R, recordKey) };
  const earlier = legacy === null ? 'none' : recordState(legacy, Date.now());
  if (earlier === 'completed')
    return { run: false, outcome: await duplicate(w, d, storedResult(legacy!) as R, recordKey, legacy!) };
  if (begun.status === 'running' || earlier === 'running') {
    if (begun.status === 'started') await releaseRecord(d, recordKey);
    w.log.info('duplicate delivery while the first is running: skipped', base);
    return { run: false, outcome: { status: 'in-progress' } };
  }
  return { run: true, recordKey };
}

/**
 * A delivery that its task's live claim does not back: the function does not run, and the wrapper returns
 * normally (a Lambda retry would be stale too). Logged without the payload.
 */
function staleStart<R>(w: WrapperSettings, d: Delivery, reason: StaleStartReason): TaskOutcome<R> {
  w.sink.count(METRICS.staleStartRejected);
  w.log.warn('start rejected: the claim is not live', { ...d.base, reason });
  return { status: 'stale', reason };
}
