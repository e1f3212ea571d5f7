/**
 * Batched delivery, the packing step: claimed tasks of one handler and one shard go into one event
 * (`detail.v: 2`, {@link TaskBatchDetail}), within the handler's `maxTasks` and `maxBytes`; tasks of a
 * handler without batching stay one event each (`detail.v: 1`). Pure: no I/O, no clock.
 *
 * One handler and one shard per event, so that the wrapper begins and completes the whole batch with one
 * script call each (every key of a shard is in one cluster slot). The bytes are counted the way
 * EventBridge counts an entry (`entry-size.ts`: Source, DetailType, Detail), and EventBridge bills each
 * started 64 KB of an entry as one event: hence the 64 KB default.
 */
import { DEFAULTS } from '../config/env.js';
import {
  type BatchDeliveryLimits,
  type BatchedTask,
  TASK_BATCH_EVENT_VERSION,
  type TaskEventDetail,
} from '../core/types.js';
import { ValidationError } from '../errors.js';

/** Limits with their defaults applied. */
export interface ResolvedBatchLimits {
  readonly maxTasks: number;
  readonly maxBytes: number;
}

/** Batch limits per handler name: a handler not in it gets one event per task. */
export type BatchPolicy = Readonly<Record<string, BatchDeliveryLimits>>;

/** Applies the defaults and checks the ranges. @throws ValidationError */
export function resolveBatchLimits(field: string, limits: BatchDeliveryLimits): ResolvedBatchLimits {
  const maxTasks = limits.maxTasks ?? DEFAULTS.batchMaxTasks;
  const maxBytes = limits.maxBytes ?? DEFAULTS.batchMaxBytes;
  if (!Number.isInteger(maxTasks) || maxTasks < 1)
    throw new ValidationError(`${field}.maxTasks`, maxTasks, 'an integer >= 1');
  if (!Number.isInteger(maxBytes) || maxBytes < 1024 || maxBytes > 256 * 1024)
    throw new ValidationError(`${field}.maxBytes`, maxBytes, 'an integer from 1024 to 262144');
  return { maxTasks, maxBytes };
}

/** Resolves every handler's limits once. @throws ValidationError */
export function resolveBatchPolicy(
  policy: BatchPolicy | undefined,
): ReadonlyMap<string, ResolvedBatchLimits> {
  const out = new Map<string, ResolvedBatchLimits>();
  for (const [handler, limits] of Object.entries(policy ?? {}))
    out.set(handler, resolveBatchLimits(`batch.${handler}`, limits));
  return out;
}

/** One event to send: its `Detail` JSON and the tasks it carries (all released together if it fails). */
export interface PackedEvent {
  readonly tasks: readonly TaskEventDetail[];
  readonly detail: string;
  /** Whether `detail` is a batch (`v: 2`). */
  readonly batch: boolean;
}

/** A task whose JSON could not be made (e.g. a BigInt slipped into a payload). */
export interface PackFailure {
  readonly task: TaskEventDetail;
  readonly error: unknown;
}

/** The per-task part of a batch event. */
function batchedTask(t: TaskEventDetail): BatchedTask {
  return {
    id: t.id,
    payload: t.payload,
    attempt: t.attempt,
    idempotencyKey: t.idempotencyKey,
    scheduledFor: t.scheduledFor,
    claimToken: t.claimToken,
    leaseUntil: t.leaseUntil,
  };
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Packs tasks into events, keeping claim order within each handler and shard. A task alone over
 * `maxBytes` still goes, as a batch of one (the request limit, 256 KB, is the publisher's to enforce).
 * @param tasks claimed tasks.
 * @param limits batch limits by handler name; handlers not in it get one event per task.
 * @param envelopeBytes bytes of `Source` + `DetailType`, counted in every entry's size.
 */
export function packTasks(
  tasks: readonly TaskEventDetail[],
  limits: ReadonlyMap<string, ResolvedBatchLimits>,
  envelopeBytes: number,
): { readonly events: PackedEvent[]; readonly failed: PackFailure[] } {
  const events: PackedEvent[] = [];
  const failed: PackFailure[] = [];
  const open = new Map<string, { tasks: TaskEventDetail[]; parts: string[]; bytes: number; head: string }>();
  const close = (key: string) => {
    const group = open.get(key);
    if (group === undefined) return;
    open.delete(key);
    events.push({ tasks: group.tasks, detail: `${group.head}${group.parts.join(',')}]}`, batch: true });
  };
  for (const task of tasks) {
    const limit = limits.get(task.handler);
    if (limit === undefined) {
      try {
        events.push({ tasks: [task], detail: JSON.stringify(task), batch: false });
      } catch (error) {
        failed.push({ task, error });
      }
      continue;
    }
    let part: string;
    try {
      part = JSON.stringify(batchedTask(task));
    } catch (error) {
      failed.push({ task, error });
      continue;
    }
    const key = `${task.shard}\u0000${task.handler}`;
    const partBytes = utf8(part);
    let group = open.get(key);
    if (
      group !== undefined &&
      (group.tasks.length >= limit.maxTasks || group.bytes + 1 + partBytes > limit.maxBytes)
    ) {
      close(key);
      group = undefined;
    }
    if (group === undefined) {
      const head = `{"v":${TASK_BATCH_EVENT_VERSION},"handler":${JSON.stringify(task.handler)},"namespace":${JSON.stringify(task.namespace)},"shard":${task.shard},"tasks":[`;
      // head + part + "]}" and the envelope; each further task adds a comma and its part.
      group = { tasks: [], parts: [], bytes: envelopeBytes + utf8(head) + 2 - 1, head };
      open.set(key, group);
    }
    group.tasks.push(task);
    group.parts.push(part);
    group.bytes += 1 + partBytes;
  }
  for (const key of [...open.keys()]) close(key);
  return { events, failed };
}
