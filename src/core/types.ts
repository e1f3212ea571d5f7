/** Shapes shared by the producer, the engine, the tick, the publishers and the handler wrapper. */

/** A JSON value, as stored and delivered. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Version of the event `detail` shape below. */
export const TASK_EVENT_VERSION = 1;

/**
 * The EventBridge event `detail` for one claimed task: the task fields plus what the wrapper needs to
 * ack or fail it (claim token, shard, namespace).
 */
export interface TaskEventDetail {
  readonly v: typeof TASK_EVENT_VERSION;
  /** Job id; for an occurrence of a recurring series, `<seriesId>@<occurrence ms>`. */
  readonly id: string;
  readonly handler: string;
  readonly payload: JsonValue;
  /** 1 on the first delivery of this occurrence, then 2, 3, … */
  readonly attempt: number;
  /** Same on every delivery of one occurrence; new for the next occurrence or after a reschedule. */
  readonly idempotencyKey: string;
  /** ISO 8601 time the occurrence was due. */
  readonly scheduledFor: string;
  /**
   * Fences ack and fail: a late ack with an old token is rejected. `<lease deadline ms>.<random>.<id>`
   * (ARCHITECTURE.md, "Claim tokens"); opaque to handlers.
   */
  readonly claimToken: string;
  readonly namespace: string;
  readonly shard: number;
  /** Lease deadline, epoch ms: after it the task may be handed out again. */
  readonly leaseUntil: number;
}

/**
 * Version of the batch event `detail` ({@link TaskBatchDetail}): several tasks of one handler and one shard
 * in one event. A wrapper older than batched delivery rejects it (its schema accepts `v: 1` only) and
 * throws, so the event fails loudly (Lambda errors, the target's DLQ) instead of being acked: deploy the
 * handlers before the tick (ARCHITECTURE.md, "Upgrading").
 */
export const TASK_BATCH_EVENT_VERSION = 2;

/** One task of a batch event: the fields that differ between the tasks of one handler and shard. */
export interface BatchedTask {
  readonly id: string;
  readonly payload: JsonValue;
  readonly attempt: number;
  readonly idempotencyKey: string;
  readonly scheduledFor: string;
  readonly claimToken: string;
  readonly leaseUntil: number;
}

/**
 * The EventBridge event `detail` of a batch: the shared fields once, then the tasks. `handler` and
 * `namespace` sit where a single task's do, so the handler's rule pattern matches both shapes.
 */
export interface TaskBatchDetail {
  readonly v: typeof TASK_BATCH_EVENT_VERSION;
  readonly handler: string;
  readonly namespace: string;
  readonly shard: number;
  readonly tasks: readonly BatchedTask[];
}

/** Limits of batched delivery for one handler (`batch` option of `startLocal`, `TICKSET_BATCH`). */
export interface BatchDeliveryLimits {
  /**
   * Most tasks in one event.
   * @default 100
   */
  readonly maxTasks?: number;
  /**
   * Most bytes of one PutEvents entry (Source, DetailType and Detail, as EventBridge counts them).
   * EventBridge bills each started 64 KB of an entry as one event, so more buys nothing.
   * @default 65536
   */
  readonly maxBytes?: number;
}

/** One task that a publisher could not deliver. */
export interface PublishFailure {
  readonly task: TaskEventDetail;
  /** Error code or message from the transport (e.g. `ThrottlingException`). */
  readonly error: string;
}

export interface PublishResult {
  /** Tasks that were not delivered after the publisher's own retries; the tick releases them. */
  readonly failed: readonly PublishFailure[];
}

/** Delivers claimed tasks to their handlers (EventBridge on AWS, in-process locally). */
export interface Publisher {
  publish(tasks: readonly TaskEventDetail[]): Promise<PublishResult>;
}
