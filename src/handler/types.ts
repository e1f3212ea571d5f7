/** The public types of `taskHandler`: what a function receives, what a delivery ends as, the options. */
import type { Engine, StaleStartReason } from '../core/engine.js';
import type { JsonValue } from '../core/types.js';
import type { TicksetLogger } from '../observability/logger.js';
import type { MetricsSink } from '../observability/metrics.js';
import type { BatchRunOptions } from './batch.js';

/** What a handler function receives. */
export interface Task<P = JsonValue> {
  readonly id: string;
  readonly handler: string;
  readonly payload: P;
  /** 1 on the first delivery of this occurrence. */
  readonly attempt: number;
  /** Same on every delivery of this occurrence: key your side effects by it. */
  readonly idempotencyKey: string;
  readonly scheduledFor: Date;
}

export type TaskOutcome<R> =
  | { readonly status: 'succeeded'; readonly result: R }
  | { readonly status: 'duplicate'; readonly result: R }
  | { readonly status: 'in-progress' }
  | { readonly status: 'retrying'; readonly attempt: number; readonly retryAt: number }
  | { readonly status: 'dead'; readonly attempt: number; readonly reason: string }
  /**
   * The claim is not live: at start (`reason` says why; the function did not run, see
   * `StaleStartReason`), or at the ack or failure record after the function ran (no `reason`).
   */
  | { readonly status: 'stale'; readonly reason?: StaleStartReason }
  /** A task of a batch event that had no time left to start: released, due again at once. */
  | { readonly status: 'released' }
  /** A batch event: one outcome per task, in the event's order. */
  | { readonly status: 'batch'; readonly outcomes: readonly TaskOutcome<R>[] };

export interface TaskHandlerOptions {
  /** The engine to ack / fail through. @default - built once per container from the environment (`engineFromEnv`, src/runtime/from-env.ts) */
  readonly engine?: Engine | (() => Promise<Engine>);
  /** The handler name this function serves; events naming another are dead-lettered. @default - any */
  readonly handler?: string;
  /** Idempotency record lifetime in seconds (TICKSET_IDEMPOTENCY_TTL_SECONDS). @default 604800 (7 days) */
  readonly idempotencyTtlSeconds?: number;
  /** Fail the attempt (reason `timeout`) after this long. @default - the Lambda's remaining time decides */
  readonly timeoutMs?: number;
  /** Include payloads in logs (TICKSET_LOG_PAYLOADS). @default false */
  readonly logPayloads?: boolean;
  /** @default - Powertools Logger, service `tickset-handler` */
  readonly logger?: TicksetLogger;
  /** @default - Powertools Metrics (EMF), flushed after every event */
  readonly metrics?: MetricsSink;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
  /**
   * Also look for records under the prefix earlier versions wrote them to (`tickset-idem:<namespace>#…`),
   * for redeliveries (attempt > 1) and events from EventBridge: one GET each. Turn it off once
   * `idempotencyTtlSeconds` has passed since the upgrade (ARCHITECTURE.md, "Upgrading"). @default true
   */
  readonly legacyRecords?: boolean;
  /**
   * Batch events (`detail.v: 2`, batched delivery): how many of a batch's tasks run at once, and the time
   * kept back from the Lambda deadline (`src/handler/batch.ts`). A wrapper always accepts batch events;
   * the tick sends them only to handlers configured for batched delivery.
   * @default { concurrency: 8 (TICKSET_BATCH_CONCURRENCY), marginMs: 1000 }
   */
  readonly batch?: BatchRunOptions;
}
