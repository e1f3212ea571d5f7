/**
 * Publishes claimed tasks to an EventBridge bus with PutEvents (the tick's `Publisher.publish` step,
 * ARCHITECTURE.md "Flow").
 *
 * - Batches of at most 10 entries and at most 256 KB (entry sizes as EventBridge counts them, see
 *   `entry-size.ts`). An entry that alone is over the limit is never sent: it fails with `EntryTooLarge`.
 * - Up to `concurrency` PutEvents calls in flight (per publisher, across concurrent `publish` calls).
 * - Only the entries that failed are sent again: per-entry throttling/internal errors of a partial failure,
 *   and whole-call throttling, 5xx, time-outs and network errors. Full-jitter exponential backoff between
 *   attempts. Non-retryable codes fail at once.
 * - Entries still failing after `maxAttempts` come back in `failed` with their error: never dropped.
 *
 * Nothing here logs: the result carries every failure, and payloads never leave the entry.
 */

import { setTimeout as delay } from 'node:timers/promises';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { DEFAULTS } from '../config/env.js';
import type { Publisher, PublishFailure, PublishResult, TaskEventDetail } from '../core/types.js';
import { ValidationError } from '../errors.js';
import { planBatches } from './batches.js';
import { MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES, putEventsEntrySize } from './entry-size.js';
import { type BatchPolicy, packTasks, type ResolvedBatchLimits, resolveBatchPolicy } from './pack.js';

/** Error code of an entry larger than the request limit: it was never sent. Not retryable. */
export const ENTRY_TOO_LARGE = 'EntryTooLarge';
/** Error code of a task that `JSON.stringify` could not serialise: it was never sent. Not retryable. */
export const SERIALIZATION_FAILED = 'SerializationFailed';
/** Error code of an entry the response gave no result for (neither `EventId` nor `ErrorCode`). Retryable. */
export const MISSING_RESULT = 'MissingResultEntry';

/**
 * Error codes retried by the publisher, whether a whole call failed with them or a single entry of a partial
 * failure. The PutEvents API reference lists `InternalFailure` and `ThrottlingException` as the retryable
 * per-entry codes; the others are the throttling and server-side spellings AWS services use. Any other code
 * (`ValidationException`, `AccessDeniedException`, `MalformedDetail`, `InvalidArgument`,
 * `NotAuthorizedForSourceException`, …) fails at once. Whole calls are also retried on HTTP 429, any 5xx,
 * time-outs and network errors (no HTTP status), and after the SDK corrected a clock skew.
 */
export const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'InternalException',
  'InternalFailure',
  'InternalServerError',
  'InternalServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  MISSING_RESULT,
]);

/** Socket connect time-out of the client the publisher creates when none is given. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 2_000;
/** Request time-out of the client the publisher creates when none is given. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** Options of {@link EventBridgePublisher}. */
export interface EventBridgePublisherOptions {
  /**
   * The client to send with. When omitted the publisher creates one with the SDK's own retries off
   * (`maxAttempts: 1`), so that this publisher is the only retry layer and a publish is bounded by
   * `maxAttempts` calls per entry, with a 2 s connect and 5 s request time-out. A client you pass keeps its
   * own retry settings: its retries of whole calls then happen inside each of ours.
   * @default new EventBridgeClient({ maxAttempts: 1, requestHandler: { connectionTimeout: 2000, requestTimeout: 5000, throwOnRequestTimeout: true } })
   */
  readonly client?: EventBridgeClient;
  /** Name or ARN of the event bus (`TICKSET_EVENT_BUS_NAME`). */
  readonly eventBusName: string;
  /**
   * Event `source` (`TICKSET_EVENT_SOURCE`).
   * @default 'tickset'
   */
  readonly source?: string;
  /**
   * Event `detail-type` (`TICKSET_EVENT_DETAIL_TYPE`).
   * @default 'tickset.task'
   */
  readonly detailType?: string;
  /**
   * Most PutEvents calls in flight at once, across every `publish` call of this publisher.
   * @default 8
   */
  readonly concurrency?: number;
  /**
   * Most PutEvents calls that carry one entry (first attempt included). Must be at least 1.
   * @default 4
   */
  readonly maxAttempts?: number;
  /**
   * Backoff base in ms. Before attempt n + 1 the publisher waits a random time in
   * `[0, min(maxDelayMs, baseDelayMs × 2^(n-1)))` (full jitter).
   * @default 50
   */
  readonly baseDelayMs?: number;
  /**
   * Backoff cap in ms.
   * @default 1000
   */
  readonly maxDelayMs?: number;
  /**
   * Most bytes per PutEvents request (sum of entry sizes as EventBridge counts them); also the largest
   * entry that is sent at all.
   * @default 262144 (256 KB)
   */
  readonly maxRequestBytes?: number;
  /**
   * Batched delivery: handlers named here get their claimed tasks of one shard packed into one entry
   * (`detail.v: 2`, up to `maxTasks` tasks and `maxBytes` bytes; `pack.ts`). A failed entry fails every
   * task in it. Deploy those handlers' wrappers before a tick with batching (ARCHITECTURE.md, "Upgrading").
   * @default - none: one entry per task
   */
  readonly batch?: BatchPolicy;
  /**
   * Waits between attempts; inject a no-op in tests.
   * @default setTimeout from node:timers/promises
   */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Random source in [0, 1) for the backoff jitter; inject a seeded one for reproducible runs.
   * @default Math.random
   */
  readonly random?: () => number;
}

/** A task the publisher could not deliver, with the error split into code and message. */
export interface EventBridgePublishFailure extends PublishFailure {
  /** Error code, e.g. `ThrottlingException`, `ValidationException`, `EntryTooLarge`. */
  readonly code: string;
  /** Error message from EventBridge or the transport, when there was one. Never contains the payload. */
  readonly message?: string;
  /** PutEvents calls that carried this entry: 0 for an entry that was never sent. */
  readonly attempts: number;
}

/** What {@link EventBridgePublisher.publish} returns. */
export interface EventBridgePublishResult extends PublishResult {
  /** Undelivered tasks, in entry order (input order without batching). The tick puts them back to due with a short backoff. */
  readonly failed: readonly EventBridgePublishFailure[];
  /** Tasks EventBridge accepted (an `EventId` came back). */
  readonly delivered: number;
  /** PutEvents calls made, retries included. */
  readonly calls: number;
  /** Entries sent again after a retryable failure (one per re-send). */
  readonly retried: number;
}

interface Pending {
  readonly index: number;
  /** The tasks of this entry: one, or a batch. */
  readonly tasks: readonly TaskEventDetail[];
  readonly entry: PutEventsRequestEntry;
  readonly size: number;
}

type Outcome = { readonly ok: true } | Failed;

interface Failed {
  readonly ok: false;
  readonly code: string;
  readonly message: string | undefined;
  readonly retryable: boolean;
}

interface Tally {
  readonly failures: { readonly index: number; readonly failures: EventBridgePublishFailure[] }[];
  delivered: number;
  calls: number;
  retried: number;
}

/** Bounds the number of async calls running at once; FIFO, a released slot passes straight to the next. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/** Publishes tasks as EventBridge events; see the module comment for batching, concurrency and retries. */
export class EventBridgePublisher implements Publisher {
  /** The client in use (given or created). */
  readonly client: EventBridgeClient;
  private readonly ownsClient: boolean;
  private readonly eventBusName: string;
  private readonly source: string;
  private readonly detailType: string;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRequestBytes: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly limiter: Limiter;
  private readonly batchLimits: ReadonlyMap<string, ResolvedBatchLimits>;
  private readonly envelopeBytes: number;

  /**
   * @param options bus name (required), event source and detail-type, concurrency, retry and backoff.
   * @throws ValidationError when an option is out of range.
   */
  constructor(options: EventBridgePublisherOptions) {
    const prefix = 'EventBridgePublisher options.';
    requireNonEmpty(`${prefix}eventBusName`, options.eventBusName);
    this.eventBusName = options.eventBusName;
    this.source = options.source ?? DEFAULTS.eventSource;
    requireNonEmpty(`${prefix}source`, this.source);
    this.detailType = options.detailType ?? DEFAULTS.eventDetailType;
    requireNonEmpty(`${prefix}detailType`, this.detailType);
    const concurrency = options.concurrency ?? 8;
    requireInteger(`${prefix}concurrency`, concurrency, 1);
    this.maxAttempts = options.maxAttempts ?? 4;
    requireInteger(`${prefix}maxAttempts`, this.maxAttempts, 1);
    this.baseDelayMs = options.baseDelayMs ?? 50;
    requireNonNegative(`${prefix}baseDelayMs`, this.baseDelayMs);
    this.maxDelayMs = options.maxDelayMs ?? 1_000;
    requireNonNegative(`${prefix}maxDelayMs`, this.maxDelayMs);
    this.maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    requireInteger(`${prefix}maxRequestBytes`, this.maxRequestBytes, 1);
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.random = options.random ?? Math.random;
    this.limiter = new Limiter(concurrency);
    this.batchLimits = resolveBatchPolicy(options.batch);
    this.envelopeBytes = putEventsEntrySize({ Source: this.source, DetailType: this.detailType });
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      new EventBridgeClient({
        maxAttempts: 1,
        requestHandler: {
          connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS,
          requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS,
          throwOnRequestTimeout: true,
        },
      });
  }

  /**
   * Sends the tasks as events (`Detail` = the whole task as JSON) and waits for every entry to be accepted
   * or to fail for good. Never throws for a transport or service error: those come back in `failed`.
   * @param tasks claimed tasks; may be empty.
   * @returns the undelivered tasks (in entry order) with their error, and counters for metrics.
   */
  async publish(tasks: readonly TaskEventDetail[]): Promise<EventBridgePublishResult> {
    const tally: Tally = { failures: [], delivered: 0, calls: 0, retried: 0 };
    const pending: Pending[] = [];
    const packed = packTasks(tasks, this.batchLimits, this.envelopeBytes);
    for (const f of packed.failed) {
      tally.failures.push({
        index: tally.failures.length,
        failures: [failure(f.task, SERIALIZATION_FAILED, errorMessage(f.error), 0)],
      });
    }
    packed.events.forEach((event, i) => {
      const entry: PutEventsRequestEntry = {
        Source: this.source,
        DetailType: this.detailType,
        Detail: event.detail,
        EventBusName: this.eventBusName,
      };
      pending.push({
        index: packed.failed.length + i,
        tasks: event.tasks,
        entry,
        size: putEventsEntrySize(entry),
      });
    });

    const plan = planBatches(pending, (p) => p.size, {
      maxEntries: MAX_ENTRIES_PER_REQUEST,
      maxBytes: this.maxRequestBytes,
    });
    for (const p of plan.oversized) {
      const message = `entry is ${p.size} bytes; a PutEvents request accepts at most ${this.maxRequestBytes}`;
      tally.failures.push({
        index: p.index,
        failures: p.tasks.map((task) => failure(task, ENTRY_TOO_LARGE, message, 0)),
      });
    }
    await Promise.all(plan.batches.map((batch) => this.deliver(batch, tally)));

    tally.failures.sort((a, b) => a.index - b.index);
    return {
      failed: tally.failures.flatMap((f) => f.failures),
      delivered: tally.delivered,
      calls: tally.calls,
      retried: tally.retried,
    };
  }

  /** Destroys the client if this publisher created it (a client you passed is left alone). */
  destroy(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** Sends one batch, then re-sends only its retryable failures until none is left or attempts run out. */
  private async deliver(batch: readonly Pending[], tally: Tally): Promise<void> {
    let pending = batch;
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > 1) tally.retried += pending.length;
      const current = pending;
      const outcomes = await this.limiter.run(() => this.send(current));
      tally.calls += 1;
      const again: Pending[] = [];
      current.forEach((p, i) => {
        const outcome = outcomes[i] ?? missingResult();
        if (outcome.ok) tally.delivered += p.tasks.length;
        else if (outcome.retryable && attempt < this.maxAttempts) again.push(p);
        else
          tally.failures.push({
            index: p.index,
            failures: p.tasks.map((task) => failure(task, outcome.code, outcome.message, attempt)),
          });
      });
      pending = again;
      if (pending.length > 0) await this.sleep(this.backoff(attempt));
    }
  }

  /** One PutEvents call; maps the response (or the thrown error) to one outcome per entry. */
  private async send(batch: readonly Pending[]): Promise<Outcome[]> {
    let results: readonly PutEventsResultEntry[];
    try {
      const response = await this.client.send(new PutEventsCommand({ Entries: batch.map((p) => p.entry) }));
      results = response.Entries ?? [];
    } catch (error) {
      const outcome = classifyCallError(error);
      return batch.map(() => outcome);
    }
    return batch.map((_, i) => entryOutcome(results[i]));
  }

  /** Full jitter: uniform in [0, min(cap, base × 2^(attempt-1))). */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.random() * ceiling);
  }
}

function failure(
  task: TaskEventDetail,
  code: string,
  message: string | undefined,
  attempts: number,
): EventBridgePublishFailure {
  const error = message ? `${code}: ${message}` : code;
  return message === undefined ? { task, error, code, attempts } : { task, error, code, message, attempts };
}

function missingResult(): Failed {
  return { ok: false, code: MISSING_RESULT, message: 'no result entry for this entry', retryable: true };
}

/** Per-entry result of a call that returned: `EventId` is success, `ErrorCode` failure, neither is unknown. */
function entryOutcome(result: PutEventsResultEntry | undefined): Outcome {
  if (result?.ErrorCode) {
    return {
      ok: false,
      code: result.ErrorCode,
      message: result.ErrorMessage || undefined,
      retryable: RETRYABLE_ERROR_CODES.has(result.ErrorCode),
    };
  }
  if (result?.EventId) return { ok: true };
  return missingResult();
}

interface CallErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly clockSkewCorrected?: boolean };
}

/**
 * A whole call failed. Retryable: a throttling or server-side code, HTTP 429 or 5xx, an error the SDK marks
 * `$retryable`, a corrected clock skew, or no HTTP status at all (network error, time-out: the request may
 * or may not have arrived, so a retry may deliver twice, which at-least-once allows).
 */
function classifyCallError(error: unknown): Failed {
  const e: CallErrorShape = typeof error === 'object' && error !== null ? (error as CallErrorShape) : {};
  const status = e.$metadata?.httpStatusCode;
  let code = 'UnknownError';
  if (e.$metadata === undefined && typeof e.code === 'string' && e.code !== '') code = e.code;
  else if (typeof e.name === 'string' && e.name !== '') code = e.name;
  const retryable =
    RETRYABLE_ERROR_CODES.has(code) ||
    status === undefined ||
    status === 429 ||
    status >= 500 ||
    (e.$retryable !== undefined && e.$retryable !== null) ||
    e.$metadata?.clockSkewCorrected === true;
  return { ok: false, code, message: errorMessage(error), retryable };
}

function errorMessage(error: unknown): string | undefined {
  const message =
    typeof error === 'object' && error !== null && 'message' in error ? error.message : undefined;
  if (typeof message !== 'string' || message === '') return undefined;
  return message.length > 500 ? `${message.slice(0, 497)}...` : message;
}

function requireNonEmpty(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0)
    throw new ValidationError(field, value, 'a non-empty string');
}

function requireInteger(field: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ValidationError(field, value, `an integer >= ${min}`);
  }
}

function requireNonNegative(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ValidationError(field, value, 'a finite number >= 0');
  }
}
