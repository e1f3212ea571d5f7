/**
 * Batching, entry size and retry classification of EventBridgePublisher with aws-sdk-client-mock, plus the
 * pure helpers (`putEventsEntrySize`, `planBatches`).
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskEventDetail } from '../../src/core/types.js';
import { ValidationError } from '../../src/errors.js';
import { planBatches } from '../../src/publish/batches.js';
import {
  MAX_ENTRIES_PER_REQUEST,
  MAX_REQUEST_BYTES,
  putEventsEntrySize,
  TIME_FIELD_BYTES,
} from '../../src/publish/entry-size.js';
import {
  ENTRY_TOO_LARGE,
  EventBridgePublisher,
  type EventBridgePublisherOptions,
  MISSING_RESULT,
  RETRYABLE_ERROR_CODES,
  SERIALIZATION_FAILED,
} from '../../src/publish/eventbridge.js';
import { makeTask, makeTasks, noSleep } from './fixtures.js';

const client = new EventBridgeClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDMOCK', secretAccessKey: 'mock' },
});
const mock = mockClient(client);

/** Accepts every entry. */
function acceptAll(input: PutEventsCommandInput) {
  return {
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `event-${i}` })),
  };
}

beforeEach(() => {
  mock.reset();
  mock.on(PutEventsCommand).callsFake(acceptAll);
});

afterEach(() => {
  mock.reset();
});

function publisher(options: Partial<EventBridgePublisherOptions> = {}): EventBridgePublisher {
  return new EventBridgePublisher({ client, eventBusName: 'bus', sleep: noSleep, ...options });
}

function sentBatches(): PutEventsRequestEntry[][] {
  return mock.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries ?? []);
}

function idsOf(entries: readonly PutEventsRequestEntry[]): string[] {
  return entries.map((e) => (JSON.parse(e.Detail ?? '{}') as TaskEventDetail).id);
}

/** Entry size of `task` as the publisher sends it with default source and detail-type. */
function sizeOfTask(task: TaskEventDetail): number {
  return putEventsEntrySize({ Source: 'tickset', DetailType: 'tickset.task', Detail: JSON.stringify(task) });
}

/** A task whose entry is exactly `bytes` bytes (ASCII padding in the payload). */
function taskOfSize(n: number, bytes: number): TaskEventDetail {
  const base = sizeOfTask(makeTask(n, { pad: '' }));
  const task = makeTask(n, { pad: 'x'.repeat(bytes - base) });
  expect(sizeOfTask(task)).toBe(bytes);
  return task;
}

describe('putEventsEntrySize (AWS "Calculating PutEvents event entry size")', () => {
  it('counts the UTF-8 bytes of Source, DetailType and Detail', () => {
    expect(putEventsEntrySize({ Source: 'a', DetailType: 'bc', Detail: '{}' })).toBe(5);
  });

  it('counts multi-byte characters by their UTF-8 length, not string length', () => {
    // é: 2 bytes, €: 3 bytes, 😀: 4 bytes (2 UTF-16 units)
    expect(putEventsEntrySize({ Source: 'é', DetailType: '€', Detail: '{"x":"😀"}' })).toBe(2 + 3 + 12);
  });

  it('counts Time as 14 bytes when present, whatever its value', () => {
    const entry = { Source: 's', DetailType: 'd', Detail: '{}' };
    expect(putEventsEntrySize({ ...entry, Time: new Date(0) })).toBe(4 + TIME_FIELD_BYTES);
    expect(putEventsEntrySize({ ...entry, Time: new Date('2099-12-31T23:59:59.999Z') })).toBe(4 + 14);
  });

  it('counts each Resources entry', () => {
    expect(putEventsEntrySize({ Source: 's', DetailType: 'd', Resources: ['arn:a', 'é', ''] })).toBe(
      2 + 5 + 2,
    );
  });

  it('does not count EventBusName or TraceHeader', () => {
    const entry: PutEventsRequestEntry = { Source: 's', DetailType: 'd', Detail: '{}' };
    expect(
      putEventsEntrySize({ ...entry, EventBusName: 'a-long-bus-name', TraceHeader: 'Root=1-abc' } as never),
    ).toBe(putEventsEntrySize(entry));
  });

  it('treats a missing Detail as 0 bytes', () => {
    expect(putEventsEntrySize({ Source: 'src', DetailType: 'dt' })).toBe(5);
  });

  it('the limits are 10 entries and 256 KB', () => {
    expect(MAX_ENTRIES_PER_REQUEST).toBe(10);
    expect(MAX_REQUEST_BYTES).toBe(262_144);
  });
});

describe('planBatches', () => {
  const one = () => 1;

  it('keeps input order and cuts at maxEntries', () => {
    const items = Array.from({ length: 23 }, (_, i) => i);
    const plan = planBatches(items, one);
    expect(plan.batches.map((b) => b.length)).toEqual([10, 10, 3]);
    expect(plan.batches.flat()).toEqual(items);
    expect(plan.oversized).toEqual([]);
  });

  it('cuts when the next item would exceed maxBytes', () => {
    const plan = planBatches([4, 4, 2, 3, 1, 5], (n) => n, { maxEntries: 10, maxBytes: 10 });
    expect(plan.batches).toEqual([
      [4, 4, 2],
      [3, 1, 5],
    ]);
  });

  it('fills a batch to exactly maxBytes', () => {
    expect(planBatches([5, 5, 1], (n) => n, { maxBytes: 10 }).batches).toEqual([[5, 5], [1]]);
  });

  it('sets aside items larger than maxBytes and batches the rest', () => {
    const plan = planBatches([3, 11, 4, 10], (n) => n, { maxBytes: 10 });
    expect(plan.oversized).toEqual([11]);
    expect(plan.batches).toEqual([[3, 4], [10]]);
  });

  it('returns nothing for nothing', () => {
    expect(planBatches([], one)).toEqual({ batches: [], oversized: [] });
  });

  it('rejects impossible limits', () => {
    expect(() => planBatches([1], one, { maxEntries: 0 })).toThrow(RangeError);
    expect(() => planBatches([1], one, { maxBytes: 0 })).toThrow(RangeError);
  });
});

describe('EventBridgePublisher batching (aws-sdk-client-mock)', () => {
  it('sends exactly 10 entries in one call', async () => {
    const result = await publisher().publish(makeTasks(10));
    expect(mock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(sentBatches().map((b) => b.length)).toEqual([10]);
    expect(result).toEqual({ failed: [], delivered: 10, calls: 1, retried: 0 });
  });

  it('sends 11 entries in two calls, in order', async () => {
    const tasks = makeTasks(11);
    await publisher({ concurrency: 1 }).publish(tasks);
    expect(mock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
    expect(sentBatches().map((b) => b.length)).toEqual([10, 1]);
    expect(sentBatches().flatMap(idsOf)).toEqual(tasks.map((t) => t.id));
  });

  it('builds each entry from the task: Detail is the whole task as JSON, plus bus, source and detail-type', async () => {
    const task = makeTask(7, { nested: { list: [1, 'two', null], ok: true } });
    await publisher({ source: 'src', detailType: 'dt' }).publish([task]);
    expect(mock).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [{ Source: 'src', DetailType: 'dt', Detail: JSON.stringify(task), EventBusName: 'bus' }],
    });
  });

  it('splits by size when entries total more than 256 KB', async () => {
    const tasks = [0, 1, 2, 3, 4].map((n) => taskOfSize(n, 100_000));
    const result = await publisher({ concurrency: 1 }).publish(tasks);
    expect(result.failed).toEqual([]);
    const batches = sentBatches();
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    for (const batch of batches) {
      expect(batch.reduce((sum, e) => sum + putEventsEntrySize(e), 0)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    }
    expect(batches.flatMap(idsOf)).toEqual(tasks.map((t) => t.id));
  });

  it('packs entries totalling exactly 256 KB into one call, and one byte more into two', async () => {
    const half = MAX_REQUEST_BYTES / 2;
    await publisher().publish([taskOfSize(1, half), taskOfSize(2, half)]);
    expect(sentBatches().map((b) => b.length)).toEqual([2]);

    mock.resetHistory();
    await publisher({ concurrency: 1 }).publish([taskOfSize(1, half), taskOfSize(2, half + 1)]);
    expect(sentBatches().map((b) => b.length)).toEqual([1, 1]);
  });

  it('never sends an entry over 256 KB: it fails with EntryTooLarge, the others are still sent', async () => {
    const big = taskOfSize(99, MAX_REQUEST_BYTES + 1);
    const small = makeTasks(3);
    const result = await publisher().publish([small[0]!, big, small[1]!, small[2]!]);

    expect(sentBatches().map(idsOf)).toEqual([small.map((t) => t.id)]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ task: big, code: ENTRY_TOO_LARGE, attempts: 0 });
    expect(result.failed[0]!.error).toMatch(/^EntryTooLarge: entry is 262145 bytes/);
    expect(result.delivered).toBe(3);
  });

  it('sends an entry of exactly 256 KB, alone', async () => {
    const result = await publisher().publish([taskOfSize(1, MAX_REQUEST_BYTES), makeTask(2)]);
    expect(result.failed).toEqual([]);
    expect(sentBatches().map((b) => b.length)).toEqual([1, 1]);
  });

  it('honours a smaller maxRequestBytes', async () => {
    const tasks = [taskOfSize(1, 600), taskOfSize(2, 600), taskOfSize(3, 1200)];
    const result = await publisher({ maxRequestBytes: 1000, concurrency: 1 }).publish(tasks);
    expect(sentBatches().map(idsOf)).toEqual([[tasks[0]!.id], [tasks[1]!.id]]);
    expect(result.failed.map((f) => [f.task.id, f.code])).toEqual([[tasks[2]!.id, ENTRY_TOO_LARGE]]);
  });

  it('fails a task that cannot be serialised without sending it', async () => {
    const bad = { ...makeTask(1), payload: { n: 1n } } as unknown as TaskEventDetail;
    const good = makeTask(2);
    const result = await publisher().publish([bad, good]);
    expect(result.failed.map((f) => [f.task, f.code, f.attempts])).toEqual([[bad, SERIALIZATION_FAILED, 0]]);
    expect(sentBatches().map(idsOf)).toEqual([[good.id]]);
  });

  it('returns failures in input order', async () => {
    mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
      FailedEntryCount: input.Entries?.length ?? 0,
      Entries: (input.Entries ?? []).map(() => ({ ErrorCode: 'ValidationException', ErrorMessage: 'no' })),
    }));
    const tasks = makeTasks(35);
    const result = await publisher({ concurrency: 4 }).publish(tasks);
    expect(result.failed.map((f) => f.task.id)).toEqual(tasks.map((t) => t.id));
  });
});

describe('EventBridgePublisher retries (aws-sdk-client-mock)', () => {
  function serviceError(name: string, status: number, extra: Record<string, unknown> = {}): Error {
    return Object.assign(new Error(`${name} happened`), {
      name,
      $fault: status >= 500 ? 'server' : 'client',
      $metadata: { httpStatusCode: status },
      ...extra,
    });
  }

  it('retries a network error (no HTTP status)', async () => {
    mock
      .on(PutEventsCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
      .callsFake(acceptAll);
    const result = await publisher().publish(makeTasks(3));
    expect(result).toMatchObject({ failed: [], delivered: 3, calls: 2, retried: 3 });
  });

  it('reports a network error code when it persists', async () => {
    mock
      .on(PutEventsCommand)
      .rejects(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const result = await publisher({ maxAttempts: 2 }).publish(makeTasks(1));
    expect(result.failed[0]).toMatchObject({ code: 'ECONNREFUSED', attempts: 2 });
    expect(mock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
  });

  it.each([
    ['ThrottlingException', 400],
    ['TooManyRequestsException', 429],
    ['SomethingUnexpected', 503],
    ['InternalException', 500],
  ])('retries a whole-call %s (HTTP %d)', async (name, status) => {
    mock.on(PutEventsCommand).rejectsOnce(serviceError(name, status)).callsFake(acceptAll);
    const result = await publisher().publish(makeTasks(2));
    expect(result.failed).toEqual([]);
    expect(mock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
  });

  it('retries after the SDK corrected a clock skew', async () => {
    const skew = serviceError('InvalidSignatureException', 400);
    (skew as unknown as { $metadata: Record<string, unknown> }).$metadata.clockSkewCorrected = true;
    mock.on(PutEventsCommand).rejectsOnce(skew).callsFake(acceptAll);
    const result = await publisher().publish(makeTasks(1));
    expect(result.failed).toEqual([]);
  });

  it.each([
    ['ValidationException', 400],
    ['AccessDeniedException', 400],
    ['ResourceNotFoundException', 400],
  ])('does not retry a whole-call %s (HTTP %d)', async (name, status) => {
    mock.on(PutEventsCommand).rejects(serviceError(name, status));
    const result = await publisher().publish(makeTasks(2));
    expect(mock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(result.failed.map((f) => [f.code, f.error, f.attempts])).toEqual([
      [name, `${name}: ${name} happened`, 1],
      [name, `${name}: ${name} happened`, 1],
    ]);
  });

  it('retries an entry the response has no result for, and never counts it delivered', async () => {
    mock
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: 'a' }] })
      .callsFake(acceptAll);
    const tasks = makeTasks(3);
    const result = await publisher().publish(tasks);
    expect(result).toMatchObject({ failed: [], delivered: 3, calls: 2, retried: 2 });
    expect(sentBatches().map(idsOf)).toEqual([tasks.map((t) => t.id), [tasks[1]!.id, tasks[2]!.id]]);
  });

  it('a result without EventId or ErrorCode ends as MissingResultEntry after maxAttempts', async () => {
    mock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
    const result = await publisher({ maxAttempts: 2 }).publish(makeTasks(1));
    expect(result.failed[0]).toMatchObject({ code: MISSING_RESULT, attempts: 2 });
  });

  it('waits between attempts with full jitter, doubling up to maxDelayMs', async () => {
    mock.on(PutEventsCommand).rejects(serviceError('ThrottlingException', 400));
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
    };
    await publisher({ maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 300, sleep, random: () => 0.5 }).publish(
      makeTasks(1),
    );
    // ceilings 100, 200, 300 (capped), 300 (capped) × 0.5; no wait after the last attempt
    expect(waits).toEqual([50, 100, 150, 150]);

    waits.length = 0;
    await publisher({ maxAttempts: 3, sleep, random: () => 0 }).publish(makeTasks(1));
    expect(waits).toEqual([0, 0]);
  });

  it('maxAttempts: 1 means no retry', async () => {
    mock.on(PutEventsCommand).rejects(serviceError('ThrottlingException', 400));
    const result = await publisher({ maxAttempts: 1 }).publish(makeTasks(2));
    expect(mock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(result.failed).toHaveLength(2);
  });

  it('the retryable code list covers the documented retryable PutEvents entry codes', () => {
    for (const code of [
      'ThrottlingException',
      'InternalFailure',
      'InternalException',
      'ServiceUnavailable',
    ]) {
      expect(RETRYABLE_ERROR_CODES.has(code)).toBe(true);
    }
    for (const code of [
      'ValidationException',
      'AccessDeniedException',
      'MalformedDetail',
      'InvalidArgument',
      'InvalidAccountIdException',
      'NotAuthorizedForSourceException',
      'NotAuthorizedForDetailTypeException',
      'RedactionFailure',
      ENTRY_TOO_LARGE,
    ]) {
      expect(RETRYABLE_ERROR_CODES.has(code)).toBe(false);
    }
  });
});

describe('EventBridgePublisher options', () => {
  it.each([
    [{ eventBusName: '' }, 'eventBusName'],
    [{ eventBusName: 'b', source: '' }, 'source'],
    [{ eventBusName: 'b', detailType: '' }, 'detailType'],
    [{ eventBusName: 'b', concurrency: 0 }, 'concurrency'],
    [{ eventBusName: 'b', concurrency: 1.5 }, 'concurrency'],
    [{ eventBusName: 'b', maxAttempts: 0 }, 'maxAttempts'],
    [{ eventBusName: 'b', baseDelayMs: -1 }, 'baseDelayMs'],
    [{ eventBusName: 'b', maxDelayMs: Number.NaN }, 'maxDelayMs'],
    [{ eventBusName: 'b', maxRequestBytes: 0 }, 'maxRequestBytes'],
  ] as const)('rejects %o with a ValidationError naming %s', (options, field) => {
    let caught: unknown;
    try {
      new EventBridgePublisher({ client, ...options });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).field).toBe(`EventBridgePublisher options.${field}`);
  });

  it('creates its own client with the SDK retries off when none is given', async () => {
    const own = new EventBridgePublisher({ eventBusName: 'b' });
    try {
      expect(own.client).toBeInstanceOf(EventBridgeClient);
      expect(await own.client.config.maxAttempts()).toBe(1);
    } finally {
      own.destroy();
    }
  });
});
