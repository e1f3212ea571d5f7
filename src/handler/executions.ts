/**
 * The wrapper's idempotency records, and the two steps of an execution batched per event-loop turn:
 *
 *   begin     start fence (live claim), then record "in progress" (or find it COMPLETED / running elsewhere)  idempotency-begin.lua
 *   complete  record "completed" with the result, and ack the claim          complete.lua
 *
 * Records keep Powertools' cache-layer format byte for byte (its attribute names and statuses are taken
 * from `@aws-lambda-powertools/idempotency`): key `<prefix>#base64(md5(JSON.stringify(idempotencyKey)))`,
 * value `{"status","expiration","in_progress_expiration"}` / `{"status","expiration","data"}`. The prefix
 * is the shard's (`{ns:s}:idem`), so a record shares its claim's cluster slot and one script writes both.
 *
 * One pair of batchers per engine: tasks of all wrappers on that engine share a batch per shard.
 */
import * as crypto from 'node:crypto';
import {
  PERSISTENCE_ATTRIBUTE_KEY_MAPPINGS as ATTR,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import type { AckOutcome, BeginOutcome, Engine } from '../core/engine.js';
import { TurnBatcher } from './turn-batcher.js';

/** One-shot md5 where Node has `crypto.hash` (20.12+): no Hash object per call. */
const md5Base64: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('md5', text, 'base64')
    : (text) => crypto.createHash('md5').update(text).digest('base64');

/** Powertools' record key for an idempotency key (`BasePersistenceLayer.getHashedIdempotencyKey`, md5). */
export function recordKeyOf(prefix: string, idempotencyKey: string): string {
  return `${prefix}#${md5Base64(JSON.stringify(idempotencyKey))}`;
}

/** Powertools' record expiry: seconds since the epoch (`getExpiryTimestamp`). */
export function recordExpiry(now: number, ttlSeconds: number): number {
  return Math.round(now / 1000 + ttlSeconds);
}

// The records' JSON, spelled out once so that a record is a string concatenation, not an object to
// serialise: the same bytes as JSON.stringify of Powertools' items (pinned by test/handler/executions.test.ts).
const IN_PROGRESS_OPEN = `{"${ATTR.statusAttr}":"${IdempotencyRecordStatus.INPROGRESS}","${ATTR.expiryAttr}":`;
const IN_PROGRESS_UNTIL = `,"${ATTR.inProgressExpiryAttr}":`;
const COMPLETED_OPEN = `{"${ATTR.statusAttr}":"${IdempotencyRecordStatus.COMPLETED}","${ATTR.expiryAttr}":`;
const DATA = `,"${ATTR.dataAttr}":`;

/** The JSON Powertools' `#putInProgressRecord` writes. */
export function inProgressRecord(expiry: number, inProgressUntil: number): string {
  return `${IN_PROGRESS_OPEN}${expiry}${IN_PROGRESS_UNTIL}${inProgressUntil}}`;
}

/**
 * The JSON Powertools' `_updateRecord` writes: an `undefined` result (or a function) has no `data`.
 * Throws when `result` cannot be serialised (a BigInt, a cycle).
 */
export function completedRecord(expiry: number, result: unknown): string {
  return completedRecordHead(expiry) + completedRecordTail(result);
}

/** A COMPLETED record up to and with its expiry: shared by the records of one batch (complete.lua). */
export function completedRecordHead(expiry: number): string {
  return `${COMPLETED_OPEN}${expiry}`;
}

/** The rest of a COMPLETED record, after its expiry. Throws when `result` cannot be serialised. */
export function completedRecordTail(result: unknown): string {
  const data = JSON.stringify(result) as string | undefined;
  return data === undefined ? '}' : `${DATA}${data}}`;
}

/** The stored result of a COMPLETED record. */
export function storedResult(record: string): unknown {
  return (JSON.parse(record) as Record<string, unknown>)[ATTR.dataAttr];
}

export interface BeginItem {
  readonly shard: number;
  readonly handler: string;
  readonly id: string;
  readonly claimToken: string;
  readonly ttlSeconds: number;
  /** How long the execution may run: its record stays "in progress" that long (from the batch's start). */
  readonly runForMs: number;
  readonly recordKey: string;
}

export interface CompleteItem {
  readonly shard: number;
  readonly handler: string;
  readonly ttlSeconds: number;
  readonly id: string;
  readonly claimToken: string;
  readonly recordKey: string;
  /**
   * The COMPLETED record after its expiry (`completedRecordTail`: the batch adds the expiry), a whole
   * record to write as it is (starts with `{`), or `''` to ack only.
   */
  readonly recordTail: string;
}

export interface Executions {
  readonly begin: TurnBatcher<BeginItem, BeginItem, BeginOutcome>;
  readonly complete: TurnBatcher<CompleteItem, CompleteItem, AckOutcome>;
}

const byEngine = new WeakMap<Engine, Executions>();

/** The batchers of an engine (created on first use). */
export function executionsOf(engine: Engine): Executions {
  let executions = byEngine.get(engine);
  if (!executions) {
    executions = {
      // One "in progress" record per batch (its tasks start together), so it is built and sent once.
      begin: new TurnBatcher<BeginItem, BeginItem, BeginOutcome>({
        // Per shard and handler: the start fence reads the handler's in-flight set.
        groupKey: (i) => `${i.shard}|${i.ttlSeconds}|${i.runForMs}|${i.handler}`,
        group: (i) => i,
        send: (first, items) => {
          const now = Date.now();
          const inProgress = inProgressRecord(recordExpiry(now, first.ttlSeconds), now + first.runForMs);
          return engine.beginExecutions(first.shard, first.handler, items, inProgress, now, first.ttlSeconds);
        },
      }),
      // The records of one batch share their expiry: the head is sent once, each task sends its tail.
      complete: new TurnBatcher<CompleteItem, CompleteItem, AckOutcome>({
        groupKey: (i) => `${i.shard}|${i.ttlSeconds}|${i.handler}`,
        group: (i) => i,
        send: (first, items) =>
          engine.completeExecutions(
            first.shard,
            first.handler,
            items,
            completedRecordHead(recordExpiry(Date.now(), first.ttlSeconds)),
            first.ttlSeconds,
          ),
      }),
    };
    byEngine.set(engine, executions);
  }
  return executions;
}

/** What an existing record says, with Powertools' rules (the same as `record_state` in includes/record-state.lua). */
export function recordState(raw: string, now: number): 'completed' | 'running' | 'orphan' {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return 'orphan';
  }
  if (typeof record !== 'object' || record === null) return 'orphan';
  const expiry = record[ATTR.expiryAttr];
  if (typeof expiry === 'number' && now / 1000 > expiry) return 'orphan';
  const status = record[ATTR.statusAttr];
  if (status === IdempotencyRecordStatus.COMPLETED) return 'completed';
  const runningUntil = record[ATTR.inProgressExpiryAttr];
  if (status === IdempotencyRecordStatus.INPROGRESS && typeof runningUntil === 'number' && runningUntil > now)
    return 'running';
  return 'orphan';
}
