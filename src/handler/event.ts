/** Validates what reaches a handler: an EventBridge event whose `detail` is a tickset task. */
import { z } from 'zod';
import { TASK_EVENT_VERSION, type TaskEventDetail } from '../core/types.js';
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

/**
 * Marks an event that the local publisher built in this process from a claim reply: its `detail` is the
 * engine's own object, so the wrapper does not validate it again. A Symbol never survives serialisation, so
 * an event that came through EventBridge (or any JSON) can never carry the mark and is always validated.
 */
const LOCAL_EVENT = Symbol('tickset.localEvent');

export function markLocalEvent<T extends { readonly detail: TaskEventDetail }>(event: T): T {
  (event as Record<symbol, unknown>)[LOCAL_EVENT] = true;
  return event;
}

/** The detail of an event marked by `markLocalEvent`, or undefined for any other event. */
export function localEventDetail(event: unknown): TaskEventDetail | undefined {
  if (typeof event === 'object' && event !== null && (event as Record<symbol, unknown>)[LOCAL_EVENT] === true)
    return (event as { detail: TaskEventDetail }).detail;
  return undefined;
}

/** Accepts an EventBridge event (`{ detail: … }`) or a bare task detail. Throws MalformedEventError. */
export function parseTaskEvent(event: unknown): TaskEventDetail {
  if (typeof event !== 'object' || event === null)
    throw new MalformedEventError('event', 'an EventBridge event object', event);
  // An EventBridge envelope (`source`, `detail-type`) must carry `detail`; anything else is a bare task detail.
  const envelope = 'detail' in event || 'detail-type' in event || 'source' in event;
  const detail = envelope ? (event as { detail?: unknown }).detail : event;
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
