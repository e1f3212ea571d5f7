/** Validates what reaches a handler: an EventBridge event whose `detail` is a tickset task. */
import { z } from 'zod';
import {
  TASK_BATCH_EVENT_VERSION,
  TASK_EVENT_VERSION,
  type TaskBatchDetail,
  type TaskEventDetail,
} from '../core/types.js';
import { MalformedEventError } from '../errors.js';

const detailSchema = z.object({
  v: z.literal(TASK_EVENT_VERSION),
  id: z.string().min(1).max(2048),
  handler: z.string().min(1).max(64),
  payload: z.unknown(),
  attempt: z.number().int().min(1),
  idempotencyKey: z.string().min(1).max(4096),
  scheduledFor: z.iso.datetime(),
  claimToken: z.string().min(1).max(256),
  namespace: z.string().min(1).max(64),
  shard: z.number().int().min(0),
  leaseUntil: z.number(),
});

const batchSchema = z.object({
  v: z.literal(TASK_BATCH_EVENT_VERSION),
  handler: z.string().min(1).max(64),
  namespace: z.string().min(1).max(64),
  shard: z.number().int().min(0),
  tasks: z
    .array(
      z.object({
        id: z.string().min(1).max(2048),
        payload: z.unknown(),
        attempt: z.number().int().min(1),
        idempotencyKey: z.string().min(1).max(4096),
        scheduledFor: z.iso.datetime(),
        claimToken: z.string().min(1).max(256),
        leaseUntil: z.number(),
      }),
    )
    .min(1)
    .max(10_000),
});

/**
 * Marks an event that the local publisher built in this process from a claim reply: its `detail` is the
 * engine's own object, so the wrapper does not validate it again. A Symbol never survives serialisation, so
 * an event that came through EventBridge (or any JSON) can never carry the mark and is always validated.
 */
const LOCAL_EVENT = Symbol('tickset.localEvent');

export function markLocalEvent<T extends { readonly detail: TaskEventDetail | LocalBatchDetail }>(
  event: T,
): T {
  (event as Record<symbol, unknown>)[LOCAL_EVENT] = true;
  return event;
}

/** The detail of an event marked by `markLocalEvent`, or undefined for any other event. */
export function localEventDetail(event: unknown): TaskEventDetail | undefined {
  if (typeof event === 'object' && event !== null && (event as Record<symbol, unknown>)[LOCAL_EVENT] === true)
    return (event as { detail: TaskEventDetail }).detail;
  return undefined;
}

/** A batch the local publisher built: the batch shape, with each task's full detail. */
export interface LocalBatchDetail extends Omit<TaskBatchDetail, 'tasks'> {
  readonly tasks: readonly TaskEventDetail[];
}

/** The `detail` of an EventBridge envelope, or the event itself when it is a bare detail. */
function detailOf(event: object): unknown {
  const envelope = 'detail' in event || 'detail-type' in event || 'source' in event;
  return envelope ? (event as { detail?: unknown }).detail : event;
}

/** Whether the event is a batch (`detail.v: 2`): the wrapper then runs {@link parseBatchEvent}. */
export function isBatchEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const detail = detailOf(event);
  return (
    typeof detail === 'object' &&
    detail !== null &&
    (detail as { v?: unknown }).v === TASK_BATCH_EVENT_VERSION
  );
}

/**
 * The tasks of a batch event (`detail.v: 2`), each as a full task detail. An event the local publisher
 * built is not validated again. Throws MalformedEventError.
 */
export function parseBatchEvent(event: unknown): readonly TaskEventDetail[] {
  const local = localEventDetail(event) as LocalBatchDetail | TaskEventDetail | undefined;
  if (local !== undefined && local.v === TASK_BATCH_EVENT_VERSION) return (local as LocalBatchDetail).tasks;
  if (typeof event !== 'object' || event === null)
    throw new MalformedEventError('event', 'an EventBridge event object', event);
  const detail = detailOf(event);
  const parsed = batchSchema.safeParse(detail);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = `detail.${issue.path.map(String).join('.')}`;
    let got: unknown = detail;
    for (const p of issue.path) got = (got as Record<PropertyKey, unknown> | undefined)?.[p];
    throw new MalformedEventError(field, issue.message.replace(/^Invalid input: /, ''), got);
  }
  const { handler, namespace, shard } = parsed.data;
  return parsed.data.tasks.map((t) => ({
    v: TASK_EVENT_VERSION,
    id: t.id,
    handler,
    payload: (t.payload ?? null) as TaskEventDetail['payload'],
    attempt: t.attempt,
    idempotencyKey: t.idempotencyKey,
    scheduledFor: t.scheduledFor,
    claimToken: t.claimToken,
    namespace,
    shard,
    leaseUntil: t.leaseUntil,
  }));
}

/** Accepts an EventBridge event (`{ detail: … }`) or a bare task detail. Throws MalformedEventError. */
export function parseTaskEvent(event: unknown): TaskEventDetail {
  if (typeof event !== 'object' || event === null)
    throw new MalformedEventError('event', 'an EventBridge event object', event);
  // An EventBridge envelope (`source`, `detail-type`) must carry `detail`; anything else is a bare task detail.
  const detail = detailOf(event);
  if (typeof detail !== 'object' || detail === null) {
    throw new MalformedEventError('detail', 'an object with the task fields', detail);
  }
  const parsed = detailSchema.safeParse(detail);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = `detail.${issue.path.map(String).join('.')}`;
    let got: unknown = detail;
    for (const p of issue.path) got = (got as Record<PropertyKey, unknown> | undefined)?.[p];
    throw new MalformedEventError(field, issue.message.replace(/^Invalid input: /, ''), got);
  }
  return { ...parsed.data, payload: parsed.data.payload ?? null } as TaskEventDetail;
}
