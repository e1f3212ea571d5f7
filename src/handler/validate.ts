/**
 * Phase 1 of `taskHandler`: validate. The event is parsed (zod; an event the local publisher built from a
 * claim reply is the engine's own object and is not validated again), then checked against the engine it
 * will be acked through (namespace, shard). A malformed event is logged and thrown: nothing was claimed
 * for it that the wrapper could fail.
 */
import type { Engine } from '../core/engine.js';
import type { TaskEventDetail } from '../core/types.js';
import { MalformedEventError } from '../errors.js';
import type { TicksetLogger } from '../observability/logger.js';
import { localEventDetail, parseTaskEvent } from './event.js';

/** The event's task, and whether the local publisher built it (`local`). Throws on a malformed event. */
export function parseDelivery(
  event: unknown,
  log: TicksetLogger,
): { readonly detail: TaskEventDetail; readonly local: boolean } {
  const local = localEventDetail(event);
  if (local !== undefined) return { detail: local, local: true };
  try {
    return { detail: parseTaskEvent(event), local: false };
  } catch (error) {
    log.error('malformed task event', { error: (error as Error).message });
    throw error;
  }
}

/** Throws (and logs) when the task belongs to another namespace, or to a shard the engine does not have. */
export function checkFitsEngine(detail: TaskEventDetail, engine: Engine, log: TicksetLogger): void {
  const misfit =
    detail.namespace !== engine.namespace
      ? new MalformedEventError(
          'detail.namespace',
          `this handler's namespace "${engine.namespace}"`,
          detail.namespace,
        )
      : detail.shard >= engine.shards
        ? new MalformedEventError('detail.shard', `a shard from 0 to ${engine.shards - 1}`, detail.shard)
        : undefined;
  if (misfit) {
    log.error('malformed task event', { error: misfit.message });
    throw misfit;
  }
}
