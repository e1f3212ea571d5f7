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
