/**
 * What the phases of `taskHandler` share (`validate.ts`, `begin.ts`, `run.ts`, `complete.ts`): the
 * wrapper's settings, and one delivery of one task. Control flow lives in the phases; the records and
 * their batching (persistence) in `executions.ts` and `src/core/store/idempotency.ts`.
 */
import type { Engine } from '../core/engine.js';
import type { TaskEventDetail } from '../core/types.js';
import type { TicksetLogger } from '../observability/logger.js';
import type { MetricsSink } from '../observability/metrics.js';
import type { Executions } from './executions.js';

/** The settings of one `taskHandler(fn, options)`, resolved once. */
export interface WrapperSettings {
  readonly now: () => number;
  /** Idempotency record lifetime in seconds. */
  readonly ttl: number;
  readonly legacyRecords: boolean;
  readonly timeoutMs: number | undefined;
  /** The handler name this function serves, when given. */
  readonly handler: string | undefined;
  readonly log: TicksetLogger;
  readonly sink: MetricsSink;
}

/** One delivery of one task: passed to the phases instead of closures made per task. */
export interface Delivery {
  readonly engine: Engine;
  readonly executions: Executions;
  readonly detail: TaskEventDetail;
  /** `detail.scheduledFor`, parsed once. */
  readonly due: number;
  /** Log attributes. */
  readonly base: { id: string; handler: string; attempt: number; idempotencyKey: string };
}

export const ignore = (): undefined => undefined;
