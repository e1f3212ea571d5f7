/** Bad input gets a specific typed error, and Redis is unchanged (issue 2, item 9). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { ScheduleOptions } from '../../src/core/prepare.js';
import type { JsonValue } from '../../src/core/types.js';
import { KeyHandlerConflictError, UnknownHandlerError, ValidationError } from '../../src/errors.js';
import { newClient, randomNamespace, snapshotNamespace } from '../support/context.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

const sparse: number[] = [];
sparse[0] = 1;
sparse[2] = 3;

const cycle: Record<string, unknown> = { a: 1 };
cycle.self = { back: cycle };

interface BadCase {
  readonly name: string;
  readonly input: unknown;
  readonly field: string;
  readonly value?: string;
  /** A fragment of `expected`. */
  readonly expected: string;
  /** A TicksetUnknownHandlerError (a subclass of ValidationError) rather than the base class. */
  readonly unknownHandler?: true;
}

const bad: readonly BadCase[] = [
  {
    name: 'no timing option',
    input: { handler: 'mail' },
    field: 'options',
    value: '"no timing option"',
    expected: 'exactly one of at, delayMs, cron or everyMs',
  },
  {
    name: 'two timing options',
    input: { handler: 'mail', at: T0, delayMs: 5 },
    field: 'options',
    value: '"at and delayMs"',
    expected: 'exactly one of',
  },
  {
    name: 'cron and everyMs',
    input: { handler: 'mail', cron: '* * * * *', everyMs: 1000 },
    field: 'options',
    expected: 'exactly one of',
  },
  {
    name: 'bad cron value',
    input: { handler: 'mail', cron: '61 * * * *' },
    field: 'options.cron',
    value: '"61 * * * *"',
    expected: 'a valid cron expression',
  },
  {
    name: 'cron with 3 fields',
    input: { handler: 'mail', cron: '* * *' },
    field: 'options.cron',
    expected: '5 fields, or 6 with seconds',
  },
  {
    name: 'cron with 7 fields',
    input: { handler: 'mail', cron: '0 0 0 * * * 2027' },
    field: 'options.cron',
    expected: '5 fields, or 6 with seconds',
  },
  {
    name: 'unknown time zone',
    input: { handler: 'mail', cron: '0 9 * * *', timezone: 'Mars/Olympus_Mons' },
    field: 'options.timezone',
    value: '"Mars/Olympus_Mons"',
    expected: 'IANA time zone',
  },
  {
    name: 'timezone without cron',
    input: { handler: 'mail', delayMs: 5, timezone: 'UTC' },
    field: 'options.timezone',
    expected: 'only together with cron',
  },
  {
    name: 'negative at',
    input: { handler: 'mail', at: -1 },
    field: 'options.at',
    value: '-1',
    expected: 'epoch milliseconds',
  },
  {
    name: 'NaN at',
    input: { handler: 'mail', at: Number.NaN },
    field: 'options.at',
    value: 'NaN',
    expected: 'a valid Date or epoch milliseconds',
  },
  {
    name: 'Invalid Date at',
    input: { handler: 'mail', at: new Date(Number.NaN) },
    field: 'options.at',
    value: 'Invalid Date',
    expected: 'a valid Date',
  },
  {
    name: 'negative delayMs',
    input: { handler: 'mail', delayMs: -5 },
    field: 'options.delayMs',
    value: '-5',
    expected: '>=0',
  },
  {
    name: 'NaN delayMs',
    input: { handler: 'mail', delayMs: Number.NaN },
    field: 'options.delayMs',
    value: 'NaN',
    expected: 'number',
  },
  {
    name: 'Infinity delayMs',
    input: { handler: 'mail', delayMs: Number.POSITIVE_INFINITY },
    field: 'options.delayMs',
    expected: 'number',
  },
  {
    name: 'delayMs past the largest Date',
    input: { handler: 'mail', delayMs: 8.64e15 },
    field: 'options.delayMs',
    expected: 'no later than 8.64e15',
  },
  {
    name: 'everyMs past the largest Date',
    input: { handler: 'mail', everyMs: 8.64e15, expiresAt: T0 },
    field: 'options.everyMs',
    expected: 'no later than 8.64e15',
  },
  {
    name: 'everyMs too small',
    input: { handler: 'mail', everyMs: 10 },
    field: 'options.everyMs',
    value: '10',
    expected: '>=100',
  },
  {
    name: 'NaN expiresAt',
    input: { handler: 'mail', delayMs: 0, expiresAt: Number.NaN },
    field: 'options.expiresAt',
    value: 'NaN',
    expected: 'a valid Date',
  },
  {
    name: 'expiresAt before run time',
    input: { handler: 'mail', at: T0 + 60_000, expiresAt: T0 + 1000 },
    field: 'options.expiresAt',
    value: String(T0 + 1000),
    expected: 'at or after the run time',
  },
  {
    name: 'payload with a function',
    input: { handler: 'mail', delayMs: 0, payload: { cb: () => 1 } },
    field: 'options.payload.cb',
    value: 'a function',
    expected: 'a JSON value',
  },
  {
    name: 'payload with a BigInt',
    input: { handler: 'mail', delayMs: 0, payload: { n: 10n } },
    field: 'options.payload.n',
    value: '10n',
    expected: 'a JSON value',
  },
  {
    name: 'payload with a cycle',
    input: { handler: 'mail', delayMs: 0, payload: cycle },
    field: 'options.payload.self.back',
    value: '"(a cycle)"',
    expected: 'without cycles',
  },
  {
    name: 'payload with NaN',
    input: { handler: 'mail', delayMs: 0, payload: [1, Number.NaN] },
    field: 'options.payload[1]',
    value: 'NaN',
    expected: 'a finite number',
  },
  {
    name: 'payload with undefined inside',
    input: { handler: 'mail', delayMs: 0, payload: { a: { b: undefined } } },
    field: 'options.payload.a.b',
    value: 'undefined',
    expected: 'a JSON value',
  },
  {
    name: 'payload with a Date',
    input: { handler: 'mail', delayMs: 0, payload: { when: new Date(T0) } },
    field: 'options.payload.when',
    value: '"a Date"',
    expected: 'a plain JSON object',
  },
  {
    name: 'payload with a Map',
    input: { handler: 'mail', delayMs: 0, payload: new Map() },
    field: 'options.payload',
    value: '"a Map"',
    expected: 'a plain JSON object',
  },
  {
    name: 'sparse array payload',
    input: { handler: 'mail', delayMs: 0, payload: sparse },
    field: 'options.payload[1]',
    expected: 'sparse arrays',
  },
  {
    name: 'oversized payload',
    input: { handler: 'mail', delayMs: 0, payload: 'x'.repeat(1100) },
    field: 'options.payload',
    value: '"1102 bytes of JSON"',
    expected: 'at most 1024 bytes (maxPayloadBytes)',
  },
  {
    name: 'unknown handler',
    input: { handler: 'sms', delayMs: 0 },
    field: 'options.handler',
    value: '"sms"',
    expected: 'one of the known handlers: mail',
    unknownHandler: true,
  },
  {
    name: 'invalid handler name',
    input: { handler: 'has space', delayMs: 0 },
    field: 'options.handler',
    expected: 'a name matching',
  },
  {
    name: 'empty key',
    input: { handler: 'mail', delayMs: 0, key: '' },
    field: 'options.key',
    value: '""',
    expected: '>=1 characters',
  },
  {
    name: 'priority out of range',
    input: { handler: 'mail', delayMs: 0, priority: 101 },
    field: 'options.priority',
    expected: '<=100',
  },
  {
    name: 'fractional maxAttempts',
    input: { handler: 'mail', delayMs: 0, maxAttempts: 1.5 },
    field: 'options.maxAttempts',
    expected: 'int',
  },
  {
    name: 'backoff cap below delay',
    input: { handler: 'mail', delayMs: 0, backoff: { type: 'fixed', delayMs: 500, maxDelayMs: 100 } },
    field: 'options.backoff.maxDelayMs',
    expected: 'at least backoff.delayMs',
  },
  {
    name: 'unknown option',
    input: { handler: 'mail', delayMs: 0, runAt: T0 },
    field: 'options.runAt',
    expected: 'only the documented schedule options',
  },
  { name: 'not an object', input: 'mail', field: 'options', expected: 'an object of schedule options' },
];

describe('validation', () => {
  let redis: Redis;
  let namespace: string;
  let tasks: Scheduler;
  beforeAll(async () => {
    redis = newClient();
    namespace = randomNamespace();
    tasks = new Scheduler({
      redis,
      namespace,
      handlers: ['mail', 'push'],
      maxPayloadBytes: 1024,
      now: () => T0,
    });
    // Existing state, so "unchanged" compares something.
    await tasks.schedule({ handler: 'mail', key: 'welcome-1', delayMs: 1000, payload: { to: 'a' } });
    await tasks.schedule({ handler: 'push', at: T0, payload: null });
  });
  afterAll(async () => {
    await redis.quit();
  });

  for (const c of bad) {
    it(`rejects ${c.name} and writes nothing`, async () => {
      const before = await snapshotNamespace(redis, namespace);
      const error = await tasks.schedule(c.input as ScheduleOptions).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(c.unknownHandler ? UnknownHandlerError : ValidationError);
      const v = error as ValidationError;
      expect(v.name).toBe(c.unknownHandler ? 'TicksetUnknownHandlerError' : 'TicksetValidationError');
      expect(v.field).toBe(c.field);
      if (c.value !== undefined) expect(v.value).toBe(c.value);
      expect(v.expected).toContain(c.expected);
      expect(v.retryable).toBe(false);
      expect(v.message).toContain(c.field);
      // The same bad job inside a batch fails the whole batch, named by its index.
      const batchError = await tasks
        .scheduleMany([{ handler: 'mail', delayMs: 1 }, c.input as ScheduleOptions])
        .catch((e: unknown) => e);
      expect((batchError as ValidationError).field).toBe(c.field.replace(/^options/, 'jobs[1]'));
      expect(await snapshotNamespace(redis, namespace)).toEqual(before);
    });
  }

  it('accepts what JSON keeps exactly: a shared (non-cyclic) reference, unicode, deep nesting', async () => {
    const shared = { n: 1 };
    let deep: JsonValue = 'leaf';
    for (let i = 0; i < 60; i++) deep = [deep];
    const payload = { a: shared, b: [shared, shared], s: 'naïve ☃ \u2028', deep };
    const { id } = await tasks.schedule({ handler: 'mail', delayMs: 0, payload });
    expect((await tasks.get(id))?.payload).toEqual(JSON.parse(JSON.stringify(payload)));
    await tasks.cancel(id);
  });

  it('rejects nesting deeper than 64 levels', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = { d: deep };
    await expect(
      tasks.schedule({ handler: 'mail', delayMs: 0, payload: deep as never }),
    ).rejects.toMatchObject({
      name: 'TicksetValidationError',
      expected: expect.stringContaining('at most 64 levels'),
    });
  });

  it('a scheduleMany batch whose 3rd job is bad writes nothing at all', async () => {
    const before = await snapshotNamespace(redis, namespace);
    const jobs: ScheduleOptions[] = [
      { handler: 'mail', delayMs: 10, payload: 1 },
      { handler: 'push', delayMs: 10, key: 'new-key', payload: 2 },
      { handler: 'mail', delayMs: 10, payload: { bad: 1n as unknown as number } },
      { handler: 'mail', delayMs: 10, payload: 4 },
    ];
    await expect(tasks.scheduleMany(jobs)).rejects.toMatchObject({
      name: 'TicksetValidationError',
      field: 'jobs[2].payload.bad',
    });
    expect(await snapshotNamespace(redis, namespace)).toEqual(before);
    await expect(tasks.scheduleMany('nope' as never)).rejects.toMatchObject({ field: 'jobs' });
  });

  it('a key that belongs to another handler: TicksetKeyHandlerConflictError, nothing written', async () => {
    const before = await snapshotNamespace(redis, namespace);
    const error = await tasks
      .schedule({ handler: 'push', key: 'welcome-1', delayMs: 5 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyHandlerConflictError);
    expect(error).toMatchObject({
      name: 'TicksetKeyHandlerConflictError',
      key: 'welcome-1',
      existingHandler: 'mail',
      requestedHandler: 'push',
      retryable: false,
    });
    expect(await snapshotNamespace(redis, namespace)).toEqual(before);
  });

  it('a key-handler conflict inside one scheduleMany batch writes nothing, even the jobs before it', async () => {
    const before = await snapshotNamespace(redis, namespace);
    const error = await tasks
      .scheduleMany([
        { handler: 'mail', delayMs: 1, payload: 'first' },
        { handler: 'mail', key: 'fresh|key', delayMs: 1 },
        { handler: 'push', key: 'fresh|key', delayMs: 1 },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyHandlerConflictError);
    expect(error).toMatchObject({ key: 'fresh|key', existingHandler: 'mail', requestedHandler: 'push' });
    const againstStored = await tasks
      .scheduleMany([
        { handler: 'push', delayMs: 1, payload: 'first' },
        { handler: 'push', key: 'welcome-1', delayMs: 1 },
      ])
      .catch((e: unknown) => e);
    expect(againstStored).toMatchObject({ name: 'TicksetKeyHandlerConflictError', key: 'welcome-1' });
    expect(await snapshotNamespace(redis, namespace)).toEqual(before);
  });

  it('get and cancel reject an empty reference', async () => {
    await expect(tasks.get('')).rejects.toMatchObject({ name: 'TicksetValidationError', field: 'idOrKey' });
    await expect(tasks.cancel('')).rejects.toMatchObject({
      name: 'TicksetValidationError',
      field: 'idOrKey',
    });
  });

  it('constructor options are validated', () => {
    expect(() => new Scheduler({ redis, namespace: 'bad namespace' })).toThrow(ValidationError);
    expect(() => new Scheduler({ redis, shards: 0 })).toThrow(ValidationError);
    expect(() => new Scheduler({ redis, maxPayloadBytes: 0 })).toThrow(ValidationError);
  });
});
