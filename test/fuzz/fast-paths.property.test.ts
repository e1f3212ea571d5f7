/**
 * The hand-written fast paths of validation agree with the reference checks they stand in for:
 * - `parseCommonOptions` accepts only what the zod schema accepts, with the same values, and for a plain
 *   object accepts everything the schema accepts (so the common case never pays for zod);
 * - `serializeCommonPayload` returns exactly what `serializePayload` returns, and undefined exactly where
 *   `serializePayload` throws (which then names the error).
 * Errors themselves always come from the reference paths; test/client/validation.test.ts pins them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_DEPTH, serializeCommonPayload, serializePayload } from '../../src/core/payload.js';
import { parseCommonOptions, scheduleOptionsSchema } from '../../src/core/prepare.js';

const MAX_TIME = 8.64e15;

const numberish = fc.oneof(
  fc.integer({ min: -10, max: 1_000 }),
  fc.integer({ min: 0, max: MAX_TIME }),
  fc.double(),
  fc.constantFrom<unknown>(
    -0,
    0.5,
    99,
    100,
    100.5,
    MAX_TIME,
    MAX_TIME + 1,
    Number.MAX_SAFE_INTEGER,
    2 ** 53 + 2,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    '5',
    null,
    10n,
    new Number(5),
  ),
);
const timeish = fc.oneof(
  numberish,
  fc.constantFrom<unknown>(new Date(0), new Date(Number.NaN), new Date(MAX_TIME), '2026-12-01T09:00:00Z', {}),
);
const stringish = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom<unknown>('', 'k', '\uD800', 'a\uDC00b', '😀', 'k'.repeat(1024), 'k'.repeat(1025), 7, null),
);
const backoffish = fc.oneof(
  fc.record(
    {
      type: fc.constantFrom<unknown>('fixed', 'exponential', 'linear', undefined),
      delayMs: numberish,
      maxDelayMs: numberish,
      extra: fc.constant(1),
    },
    { requiredKeys: [] },
  ),
  fc.constantFrom<unknown>(null, 'fixed', [], Object.assign(Object.create(null), { type: 'fixed' })),
);

/** An own enumerable property that is not an option, or a prototype that is not Object's. */
const oddity = fc.constantFrom('none', 'unknownKey', '__proto__', 'nullProto', 'classInstance', 'inherited');

/** Often absent, mostly good, sometimes anything. */
const maybe = (good: fc.Arbitrary<unknown>, any: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: good },
    { weight: 1, arbitrary: any },
  );
const goodInt = (min: number, max: number) => fc.integer({ min, max });

const options = fc
  .tuple(
    fc.record({
      handler: fc.oneof({ weight: 9, arbitrary: fc.constant('mail') }, { weight: 1, arbitrary: stringish }),
      payload: fc.constantFrom<unknown>(1, { a: 1 }, () => 1, undefined),
      at: maybe(fc.oneof(goodInt(0, MAX_TIME), fc.date({ noInvalidDate: true })), timeish),
      delayMs: maybe(fc.double({ min: 0, max: MAX_TIME, noNaN: true }), numberish),
      cron: maybe(fc.constant('* * * * *'), stringish),
      timezone: maybe(fc.constant('UTC'), stringish),
      everyMs: maybe(goodInt(100, MAX_TIME), numberish),
      key: maybe(fc.string({ minLength: 1, maxLength: 8 }), stringish),
      priority: maybe(goodInt(0, 100), numberish),
      maxAttempts: maybe(goodInt(1, 100), numberish),
      backoff: maybe(
        fc.record(
          {
            type: fc.constantFrom('fixed', 'exponential'),
            delayMs: goodInt(0, MAX_TIME),
            maxDelayMs: goodInt(0, MAX_TIME),
          },
          { requiredKeys: ['type'] },
        ),
        backoffish,
      ),
      expiresAt: maybe(goodInt(0, MAX_TIME), timeish),
    }),
    fc.oneof({ weight: 4, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: oddity }),
  )
  .map(([fields, odd]) => {
    // Absent fields are left out, or sometimes present as undefined (both valid).
    let input: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined || k === 'payload') input[k] = v;
    if (odd === 'unknownKey') input.timeZone = 'UTC';
    if (odd === '__proto__') Object.defineProperty(input, '__proto__', { value: {}, enumerable: true });
    if (odd === 'nullProto') input = Object.assign(Object.create(null), input);
    if (odd === 'classInstance') input = Object.assign(new (class Options {})(), input);
    if (odd === 'inherited') input = Object.assign(Object.create({ inherited: 1 }), input);
    return input;
  });

const KEYS = Object.keys(scheduleOptionsSchema.shape);

describe('parseCommonOptions against the zod schema', () => {
  it('accepts only what the schema accepts, with the same values; accepts every plain object it accepts', () => {
    let fast = 0;
    fc.assert(
      fc.property(options, (input) => {
        const parsed = parseCommonOptions(input);
        const reference = scheduleOptionsSchema.safeParse(input);
        if (parsed !== undefined) {
          fast++;
          expect(parsed).toBe(input);
          expect(reference.success).toBe(true);
          for (const key of KEYS) {
            const mine = (parsed as Record<string, unknown>)[key];
            const theirs = (reference.data as Record<string, unknown>)[key];
            // zod copies a nested object (backoff); every other value is passed through as is.
            if (key === 'backoff') expect(mine).toEqual(theirs);
            else expect(Object.is(mine, theirs)).toBe(true);
          }
        } else if (reference.success) {
          // A valid plain object always takes the fast path; only another prototype goes to zod.
          const proto = Object.getPrototypeOf(input);
          expect(proto === Object.prototype || proto === null).toBe(false);
        }
      }),
      { numRuns: 20_000 },
    );
    expect(fast).toBeGreaterThan(100);
  });
});

function deep(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { d: value };
  return value;
}

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = { back: cyclic };
const shared = { s: 1 };
// biome-ignore lint/suspicious/noSparseArray: a sparse array is the point
const sparse = [1, , 3];

const oddValue = fc.constantFrom<unknown>(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -0,
  undefined,
  () => 1,
  Symbol('s'),
  10n,
  new Date(0),
  new Map(),
  /re/,
  sparse,
  cyclic,
  [shared, shared],
  Object.create(null),
  Object.assign(Object.create(null), { x: 1 }),
  Object.create({ inherited: 1 }),
  JSON.parse('{"__proto__":{"polluted":true}}'),
  deep(MAX_PAYLOAD_DEPTH - 1),
  deep(MAX_PAYLOAD_DEPTH),
  deep(MAX_PAYLOAD_DEPTH + 1),
  '\uD800 lone',
  'é☃😀'.repeat(30),
);

const payload = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: oddValue },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 4 }) },
  ),
})).value;

describe('serializeCommonPayload against serializePayload', () => {
  it('returns what serializePayload returns, and undefined exactly where it throws', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(payload, fc.integer({ min: 1, max: 400 }), (value, maxBytes) => {
        let reference: string | undefined;
        try {
          reference = serializePayload('payload', value, maxBytes);
        } catch {
          reference = undefined;
        }
        expect(serializeCommonPayload(value, maxBytes)).toBe(reference);
        if (reference === undefined) rejected++;
        else accepted++;
      }),
      { numRuns: 20_000 },
    );
    expect(accepted).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
  });
});
