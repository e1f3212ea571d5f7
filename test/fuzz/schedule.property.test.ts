/**
 * Bad input, as properties (every bad input gets a specific error, and Redis is unchanged).
 *
 * Each generated input to `schedule` / `scheduleMany` is either
 * - accepted: it round-trips exactly (`get(id).payload` deep-equals the input, `runAt` as expected), and the
 *   stored job can be read back and cancelled by the Lua scripts; or
 * - rejected with a typed error (`instanceof TicksetError`, a `Tickset…` name, and for validation a
 *   `field`), with the namespace's keyspace unchanged (`snapshotNamespace`).
 *
 * Inputs are arbitrary and adversarial: huge strings, deep objects, prototype-pollution keys, NaN, ±Infinity,
 * -0, dates far in the past and future, invalid time zones, cron edge cases, lone surrogates.
 */
import { Cron } from 'croner';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { ScheduleOptions } from '../../src/core/prepare.js';
import { TicksetError, ValidationError } from '../../src/errors.js';
import { newClient, randomNamespace, snapshotNamespace } from '../support/context.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0, 250);
const MAX_TIME = 8.64e15;

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

/** Strings with the characters that break things: surrogates (alone and paired), control characters, JSON and key syntax. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\n',
    '\u0000',
    '\uD800',
    '\uDC00',
    'a\uD83D',
    '😀',
    '\u2028\u2029',
    '{',
    '}',
    '"',
    '\\u0000',
    '|',
    '@',
    '*',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    '{tickset:0}:jobs',
  ),
);

const key = fc.oneof(nastyString, fc.constant('k'.repeat(1025)));

/** JSON values, plus keys that attack prototypes. */
const pollutingObject = fc.constantFrom<unknown>(
  JSON.parse('{"__proto__":{"polluted":true}}'),
  JSON.parse('{"constructor":{"prototype":{"polluted":true}}}'),
  JSON.parse('{"a":{"__proto__":{"polluted":true},"b":[{"__proto__":null}]}}'),
  { __proto__: { polluted: true } }, // a literal __proto__ sets the prototype: not a plain object
  Object.create(null),
  Object.assign(Object.create(null), { x: 1 }),
);

function deep(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { d: value };
  return value;
}

const payload = fc.oneof(
  { weight: 16, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      [-0],
      { n: Number.NaN },
      undefined,
      [undefined],
      { u: undefined },
      () => 1,
      Symbol('s'),
      10n,
      new Date(0),
      new Map([[1, 2]]),
      new Set([1]),
      /re/,
      // biome-ignore lint/suspicious/noSparseArray: a sparse array is the point
      [1, , 3],
      'x'.repeat(210_000),
      { big: 'y'.repeat(205_000) },
      deep(63),
      deep(64),
      deep(65),
      deep(2_000),
      '\uD800 lone surrogate in a payload string',
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      2 ** 53 + 1,
    ),
  },
  { weight: 2, arbitrary: pollutingObject },
);

const time = fc.oneof(
  fc.integer({ min: 0, max: MAX_TIME }),
  fc.constantFrom<unknown>(
    0,
    -1,
    -0,
    0.5,
    NOW - 1,
    NOW,
    NOW + 1.7,
    MAX_TIME,
    MAX_TIME + 1,
    -MAX_TIME,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_SAFE_INTEGER,
    new Date(NaN),
    new Date(-MAX_TIME),
    new Date(MAX_TIME),
    new Date(0),
    new Date(NOW + 86_400_000),
    '2026-12-01T09:00:00Z',
    null,
    {},
  ),
);

const duration = fc.oneof(
  fc.integer({ min: 0, max: 10 ** 12 }),
  fc.double({ min: -1e20, max: 1e20 }),
  fc.constantFrom<unknown>(
    -1,
    -0,
    0,
    99,
    100,
    100.5,
    MAX_TIME,
    MAX_TIME - NOW,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '1000',
  ),
);

const cron = fc.oneof(
  fc.constantFrom(
    '* * * * *',
    '*/5 * * * * *',
    '0 0 29 2 *',
    '0 0 31 2 *',
    '0 0 30 2 *',
    '59 23 31 12 *',
    '0 0 * * 7',
    '0 0 L * *',
    '0 0 1W * *',
    '0 0 * * 5#3',
    '@yearly',
    '@hourly',
    '@reboot',
    '',
    '   ',
    '* * * *',
    '* * * * * * *',
    '60 * * * *',
    '* 24 * * *',
    '*/0 * * * *',
    '1-0 * * * *',
    '* * 0 * *',
    '* * * 13 *',
    '0 0 0 * * *',
    '0 30 2 * * *', // a DST gap in some zones
    '* * * * * \uD800',
    'a b c d e',
  ),
  fc
    .array(fc.constantFrom('*', '0', '*/2', '1-5', '59', '61', 'L', '?', ',', '1,2', 'MON', 'JAN'), {
      minLength: 4,
      maxLength: 7,
    })
    .map((fields) => fields.join(' ')),
);

const timezone = fc.constantFrom(
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Etc/GMT-14',
  'europe/berlin',
  'Mars/Olympus',
  '',
  ' UTC',
  'UTC+1',
  '+01:00',
  'Local',
  '\uD800',
  '__proto__',
);

const handler = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('send-reminder', 'h', 'constructor', 'a.b-c_d', 'A'.repeat(64)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      '',
      'A'.repeat(65),
      '../x',
      'has space',
      '_x',
      'é',
      '__proto__',
      42,
      null,
    ),
  },
);

const backoff = fc.oneof(
  fc.record(
    {
      type: fc.constantFrom<unknown>('fixed', 'exponential', 'linear', ''),
      delayMs: duration,
      maxDelayMs: duration,
    },
    { requiredKeys: ['type'] },
  ),
  fc.constantFrom<unknown>(null, 'fixed', { type: 'fixed', extra: 1 }),
);

/** Mostly `good`, sometimes `bad`, often absent. */
function maybe<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>, absent = 4): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: absent, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: good },
    { weight: 1, arbitrary: bad },
  );
}

const goodTime = fc.integer({ min: NOW - 86_400_000, max: NOW + 10 * 365 * 86_400_000 });
const goodDuration = fc.integer({ min: 0, max: 10 ** 10 });

/** One set of schedule options: mostly plausible, often with one or more bad fields. */
const options = fc
  .record(
    {
      handler,
      payload,
      timing: fc.oneof(
        { weight: 3, arbitrary: fc.record({ at: fc.oneof(goodTime, time) }) },
        { weight: 3, arbitrary: fc.record({ delayMs: fc.oneof(goodDuration, duration) }) },
        {
          weight: 2,
          arbitrary: fc.record({ everyMs: fc.oneof(fc.integer({ min: 100, max: 10 ** 9 }), duration) }),
        },
        { weight: 3, arbitrary: fc.record({ cron, timezone: fc.option(timezone, { nil: undefined }) }) },
        { weight: 1, arbitrary: fc.record({ at: time, delayMs: duration }) }, // two timings
        { weight: 1, arbitrary: fc.constant({}) }, // none
      ),
      key: maybe(fc.string({ minLength: 1, maxLength: 30 }), key),
      priority: maybe(
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom<unknown>(-1, 101, 1.5, Number.NaN, '5'),
      ),
      maxAttempts: maybe(fc.integer({ min: 1, max: 100 }), fc.constantFrom<unknown>(0, 101, 2.5, null)),
      backoff: maybe(
        fc.record({
          type: fc.constantFrom('fixed', 'exponential'),
          delayMs: fc.integer({ min: 0, max: 1000 }),
        }),
        backoff,
      ),
      expiresAt: maybe(fc.constant(MAX_TIME), time, 6),
      extra: fc.oneof(
        { weight: 12, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'unknownOption', 'timeZone') },
      ),
    },
    { requiredKeys: ['handler', 'timing'] },
  )
  .map(({ timing, extra, ...rest }) => {
    const input: Record<string, unknown> = {};
    for (const [k, v] of Object.entries({ ...rest, ...timing })) if (v !== undefined) input[k] = v;
    // An own "__proto__" property (as JSON.parse makes it), not a prototype.
    if (extra) Object.defineProperty(input, extra, { value: { polluted: true }, enumerable: true });
    return input as unknown as ScheduleOptions;
  });

function expectedRunAt(input: ScheduleOptions): number {
  if (input.at !== undefined) {
    const ms = input.at instanceof Date ? input.at.getTime() : input.at;
    return Math.max(Math.floor(ms), NOW);
  }
  if (input.delayMs !== undefined) return NOW + Math.floor(input.delayMs);
  if (input.everyMs !== undefined) return NOW + input.everyMs;
  const next = new Cron(input.cron!.trim(), { timezone: input.timezone ?? 'UTC', paused: true, mode: 'auto' })
    .nextRun(new Date(NOW))!
    .getTime();
  return next;
}

function expectTypedError(error: unknown): void {
  expect(error).toBeInstanceOf(TicksetError);
  const e = error as TicksetError;
  expect(e.name).toMatch(/^Tickset[A-Za-z]+Error$/);
  expect(e.retryable).toBe(false);
  expect(e.message.length).toBeGreaterThan(0);
  if (e instanceof ValidationError) {
    expect(e.field).toMatch(/^(options|jobs|idOrKey)/);
    expect(e.expected.length).toBeGreaterThan(0);
  }
}

function expectNoPollution(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
}

/** Checks an accepted job: exact round trip, readable and cancellable by the scripts. */
async function expectRoundTrip(scheduler: Scheduler, input: ScheduleOptions, id: string, runAt: Date) {
  expect(runAt.getTime()).toBe(expectedRunAt(input));
  const job = await scheduler.get(id);
  expect(job).toBeDefined();
  // Exact JSON equality (key order included). toStrictEqual would compare own "constructor" keys as classes.
  const sent = input.payload === undefined ? null : input.payload;
  expect(JSON.stringify(job!.payload)).toBe(JSON.stringify(sent));
  expect(job!.payload).toEqual(sent);
  expect(job!.handler).toBe(input.handler);
  expect(job!.runAt?.getTime()).toBe(runAt.getTime());
  if (input.key !== undefined) {
    expect(job!.key).toBe(input.key);
    expect((await scheduler.get(input.key))?.id).toBe(id);
  }
  expect(await scheduler.cancel(id)).toBe(true);
  expect(await scheduler.get(id)).toBeUndefined();
}

describe('schedule: accepted and exact, or rejected with a typed error and Redis unchanged', () => {
  it('schedule(options)', async () => {
    const namespace = randomNamespace('fuzz');
    const scheduler = new Scheduler({ redis, namespace, now: () => NOW, shards: 2 });
    let accepted = 0;
    let rejected = 0;
    const rejectedBy = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(options, async (input) => {
        const before = await snapshotNamespace(redis, namespace);
        let result: Awaited<ReturnType<Scheduler['schedule']>>;
        try {
          result = await scheduler.schedule(input);
        } catch (error) {
          expectTypedError(error);
          expect(await snapshotNamespace(redis, namespace)).toEqual(before);
          expectNoPollution();
          rejected++;
          const field = (error as ValidationError).field ?? (error as Error).name;
          const name = field.replace(/^options\.?/, '').split(/[.[]/)[0] || 'options';
          rejectedBy.set(name, (rejectedBy.get(name) ?? 0) + 1);
          return;
        }
        accepted++;
        await expectRoundTrip(scheduler, input, result.id, result.runAt);
        expectNoPollution();
      }),
      { numRuns: 400 },
    );
    // Both outcomes were exercised.
    const tally = `accepted ${accepted}, rejected ${rejected} ${JSON.stringify([...rejectedBy])}`;
    expect(accepted, tally).toBeGreaterThan(40);
    expect(rejected, tally).toBeGreaterThan(40);
  });

  it('scheduleMany(jobs): all accepted and exact, or the whole batch rejected and Redis unchanged', async () => {
    const namespace = randomNamespace('fuzz');
    const scheduler = new Scheduler({ redis, namespace, now: () => NOW, shards: 3 });
    await fc.assert(
      fc.asyncProperty(fc.array(options, { maxLength: 6 }), async (inputs) => {
        const before = await snapshotNamespace(redis, namespace);
        let results: Awaited<ReturnType<Scheduler['scheduleMany']>>;
        try {
          results = await scheduler.scheduleMany(inputs);
        } catch (error) {
          expectTypedError(error);
          expect(await snapshotNamespace(redis, namespace)).toEqual(before);
          return;
        }
        expect(results).toHaveLength(inputs.length);
        // The same key twice in one batch is one job: the last write wins.
        const lastByKey = new Map<string, number>();
        inputs.forEach((input, i) => {
          if (input.key !== undefined) lastByKey.set(input.key, i);
        });
        const checked = new Set<string>();
        for (let i = 0; i < inputs.length; i++) {
          const input = inputs[i]!;
          if (input.key !== undefined && lastByKey.get(input.key) !== i) continue;
          if (checked.has(results[i]!.id)) continue;
          checked.add(results[i]!.id);
          await expectRoundTrip(scheduler, input, results[i]!.id, results[i]!.runAt);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('scheduleMany rejects what is not an array of options', async () => {
    const namespace = randomNamespace('fuzz');
    const scheduler = new Scheduler({ redis, namespace, now: () => NOW });
    for (const bad of [
      null,
      undefined,
      {},
      'jobs',
      1,
      { length: 1, 0: { handler: 'h', delayMs: 1 } },
      [null],
      [1],
    ]) {
      const before = await snapshotNamespace(redis, namespace);
      await expect(scheduler.scheduleMany(bad as never)).rejects.toSatisfy((e) => {
        expectTypedError(e);
        return true;
      });
      expect(await snapshotNamespace(redis, namespace)).toEqual(before);
    }
  });

  it('get / cancel with hostile ids and keys: undefined / false, or a typed error, and Redis unchanged', async () => {
    const namespace = randomNamespace('fuzz');
    const scheduler = new Scheduler({ redis, namespace, now: () => NOW });
    // A job whose key is U+FFFD: what a lone surrogate becomes in UTF-8. No other ref may reach it.
    const { id } = await scheduler.schedule({ handler: 'h', delayMs: 1_000, key: '\uFFFD', payload: 'keep' });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(key, fc.constantFrom<unknown>(null, 1, {}, undefined, id.toLowerCase())),
        async (ref) => {
          fc.pre(ref !== '\uFFFD' && ref !== id);
          const before = await snapshotNamespace(redis, namespace);
          for (const op of [() => scheduler.get(ref as string), () => scheduler.cancel(ref as string)]) {
            try {
              expect([undefined, false]).toContain(await op());
            } catch (error) {
              expectTypedError(error);
            }
          }
          expect(await snapshotNamespace(redis, namespace)).toEqual(before);
        },
      ),
      { numRuns: 150 },
    );
    expect((await scheduler.get('\uFFFD'))?.payload).toBe('keep');
  });

  it('distinct keys are distinct jobs (no two keys share one after UTF-8 encoding)', async () => {
    const namespace = randomNamespace('fuzz');
    const scheduler = new Scheduler({ redis, namespace, now: () => NOW });
    await fc.assert(
      fc.asyncProperty(key, key, async (a, b) => {
        fc.pre(a !== b);
        let first: string | undefined;
        let second: string | undefined;
        try {
          first = (await scheduler.schedule({ handler: 'h', delayMs: 1, key: a })).id;
        } catch (error) {
          expectTypedError(error);
        }
        try {
          second = (await scheduler.schedule({ handler: 'h', delayMs: 1, key: b })).id;
        } catch (error) {
          expectTypedError(error);
        }
        if (first !== undefined && second !== undefined) expect(first).not.toBe(second);
        for (const id of [first, second]) if (id) await scheduler.cancel(id);
      }),
      { numRuns: 150 },
    );
  });

  it('a key already owned by another handler: typed conflict, Redis unchanged', async () => {
    const namespace = randomNamespace('fuzz');
    const scheduler = new Scheduler({ redis, namespace, now: () => NOW });
    await scheduler.schedule({ handler: 'a', delayMs: 1_000, key: 'shared' });
    const before = await snapshotNamespace(redis, namespace);
    await expect(scheduler.schedule({ handler: 'b', delayMs: 1, key: 'shared' })).rejects.toMatchObject({
      name: 'TicksetKeyHandlerConflictError',
      key: 'shared',
    });
    await expect(
      scheduler.scheduleMany([
        { handler: 'c', delayMs: 1 },
        { handler: 'b', delayMs: 1, key: 'shared' },
      ]),
    ).rejects.toBeInstanceOf(TicksetError);
    expect(await snapshotNamespace(redis, namespace)).toEqual(before);
  });
});
