/**
 * Turns the producer's schedule options into a job ready for `schedule.lua`: validated at the boundary
 * (zod for the shape, `serializePayload` for the payload, croner for cron), so nothing invalid reaches Redis.
 */

import { z } from 'zod';
import { UnknownHandlerError, ValidationError } from '../errors.js';
import { DEFAULT_MAX_ATTEMPTS, encodeScheduleExtras, type JobHeader, type StoredBackoff } from './codec.js';
import { newJobId } from './ids.js';
import { isValidHandlerName } from './keys.js';
import { DEFAULT_PARK_AFTER_MS, type ParkSlot, parkSlotFor } from './parking.js';
import { serializeCommonPayload, serializePayload } from './payload.js';
import { compileCron, isKnownTimeZone, nextCronOccurrence } from './timing.js';
import type { JsonValue } from './types.js';

/** How to wait between attempts. */
export interface BackoffOptions {
  /** `fixed`: always `delayMs`; `exponential`: `delayMs × 2^(attempt−1)`, capped at `maxDelayMs`. */
  readonly type: 'fixed' | 'exponential';
  /** @default 1000 */
  readonly delayMs?: number;
  /** @default 300000 (5 minutes), or `delayMs` when that is longer */
  readonly maxDelayMs?: number;
}

/** Options of `Scheduler.schedule`. Exactly one of `at`, `delayMs`, `cron` or `everyMs`. */
export interface ScheduleOptions {
  /** Name of the handler that runs the job (`[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`). */
  readonly handler: string;
  /** Any JSON value, at most `maxPayloadBytes` when serialized. @default null */
  readonly payload?: JsonValue;
  /** Run at this time (a `Date` or epoch ms). A past time means now. */
  readonly at?: Date | number;
  /** Run after this many milliseconds. */
  readonly delayMs?: number;
  /** Cron expression: 5 fields, or 6 with seconds first. Runs at every occurrence. */
  readonly cron?: string;
  /** IANA time zone of `cron`. @default 'UTC' */
  readonly timezone?: string;
  /** Run every this many milliseconds (at least 100), the first time `everyMs` from now. */
  readonly everyMs?: number;
  /** Dedupe / upsert key: scheduling the same key again updates that job instead of adding one. @default - none */
  readonly key?: string;
  /** 0–100; among due jobs, a higher priority is claimed first (never before it is due). @default 0 */
  readonly priority?: number;
  /** Attempts before the job moves to the dead set (1–100). @default 3 */
  readonly maxAttempts?: number;
  /** Wait between attempts. @default exponential, 1 s doubling, capped at 5 min */
  readonly backoff?: BackoffOptions;
  /** Never run after this time (a `Date` or epoch ms); an expired job goes to dead with reason `expired`. @default - never */
  readonly expiresAt?: Date | number;
}

/** A validated job, ready for `schedule.lua`. */
export interface PreparedJob {
  readonly id: string;
  readonly handler: string;
  readonly runAt: number;
  readonly key: string;
  readonly priority: number;
  /** Header fields for `schedule.lua` (see `encodeScheduleExtras`). */
  readonly extras: string;
  readonly payloadJson: string;
  readonly routingKey: string;
  /** The parking slot of a one-off job due far ahead (`parking.ts`); absent: it goes to `delayed`. */
  readonly park?: ParkSlot;
}

export interface PrepareContext {
  readonly now: number;
  readonly maxPayloadBytes: number;
  readonly knownHandlers?: ReadonlySet<string>;
  /** One-off jobs due at least this far ahead are parked (`parking.ts`). @default 600000 */
  readonly parkAfterMs?: number;
}

export const MAX_PRIORITY = 100;
export const MIN_EVERY_MS = 100;
const MAX_TIME_MS = 8.64e15; // the largest valid Date
const DEFAULT_BACKOFF: StoredBackoff = ['e', 1000, 300_000];

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `text` is well-formed UTF-16 (no lone surrogate). A key with a lone surrogate is written to Redis
 * as U+FFFD (so two different keys would share one job) and escaped as `\udXXX` in the job header, which
 * Lua's cjson cannot decode: every script that reads that job would fail.
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * The rule of one schedule option, written once: the zod schema (`scheduleOptionsSchema`) and the fast
 * check (`parseCommonOptions`) are both made from `OPTION_RULES`.
 */
type OptionRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'string' }
  /** A `Date` or epoch ms (its range is checked later, with the field's name). */
  | { readonly kind: 'time' }
  | { readonly kind: 'number'; readonly int: boolean; readonly min: number; readonly max: number }
  /** A user key: 1 to 1024 characters of well-formed text. */
  | { readonly kind: 'key' };

const int = (min: number, max: number): OptionRule => ({ kind: 'number', int: true, min, max });

const OPTION_RULES = {
  handler: { kind: 'string' },
  payload: { kind: 'any' },
  at: { kind: 'time' },
  delayMs: { kind: 'number', int: false, min: 0, max: MAX_TIME_MS },
  cron: { kind: 'string' },
  timezone: { kind: 'string' },
  everyMs: int(MIN_EVERY_MS, MAX_TIME_MS),
  key: { kind: 'key' },
  priority: int(0, MAX_PRIORITY),
  maxAttempts: int(1, 100),
  expiresAt: { kind: 'time' },
} as const satisfies Record<string, OptionRule>;

/** `backoff`'s fields besides `type`. */
const BACKOFF_RULES = {
  delayMs: int(0, MAX_TIME_MS),
  maxDelayMs: int(0, MAX_TIME_MS),
} as const satisfies Record<string, OptionRule>;

const time = z.union([z.date(), z.number()], { error: 'a valid Date or epoch milliseconds' });

function zodOf(rule: OptionRule): z.ZodType {
  switch (rule.kind) {
    case 'any':
      return z.unknown();
    case 'string':
      return z.string();
    case 'time':
      return time;
    case 'key':
      return z
        .string()
        .min(1)
        .max(1024)
        .refine(isWellFormedText, 'well-formed Unicode text (no lone surrogate)');
    case 'number':
      return (rule.int ? z.number().int() : z.number()).min(rule.min).max(rule.max);
  }
}

/** `value` (not undefined) passes `rule`: exactly what `zodOf(rule)` accepts, by hand. */
function passes(rule: OptionRule, value: unknown): boolean {
  switch (rule.kind) {
    case 'any':
      return true;
    case 'string':
      return typeof value === 'string';
    case 'time':
      return typeof value === 'number'
        ? Number.isFinite(value)
        : value instanceof Date && !Number.isNaN(value.getTime());
    case 'key':
      return (
        typeof value === 'string' && value.length >= 1 && value.length <= 1024 && isWellFormedText(value)
      );
    case 'number':
      return rule.int
        ? Number.isInteger(value) && (value as number) >= rule.min && (value as number) <= rule.max
        : typeof value === 'number' && value >= rule.min && value <= rule.max;
  }
}

const optional = (rule: OptionRule) => zodOf(rule).optional();
const R = OPTION_RULES;
/** The schedule options' shape; it decides every input `parseCommonOptions` does not accept. Exported for tests. */
export const scheduleOptionsSchema = z
  .object({
    handler: zodOf(R.handler),
    payload: optional(R.payload),
    at: optional(R.at),
    delayMs: optional(R.delayMs),
    cron: optional(R.cron),
    timezone: optional(R.timezone),
    everyMs: optional(R.everyMs),
    key: optional(R.key),
    priority: optional(R.priority),
    maxAttempts: optional(R.maxAttempts),
    backoff: z
      .object({
        type: z.enum(['fixed', 'exponential']),
        delayMs: optional(BACKOFF_RULES.delayMs),
        maxDelayMs: optional(BACKOFF_RULES.maxDelayMs),
      })
      .strict()
      .optional(),
    expiresAt: optional(R.expiresAt),
  })
  .strict();

/** The options as validated: the types of `ScheduleOptions`, which the rules check (a type, not an interface). */
type ParsedOptions = { readonly [K in keyof ScheduleOptions]: ScheduleOptions[K] };

const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(scheduleOptionsSchema.shape));
const BACKOFF_NAMES: ReadonlySet<string> = new Set(['type', ...Object.keys(BACKOFF_RULES)]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * `input` itself when `scheduleOptionsSchema` certainly accepts it, else undefined (then zod decides and
 * names the error); never throws. The same rules, checked by hand for plain objects only (for-in also
 * sees a polluted prototype's enumerable keys: stricter, never looser). A property test checks that
 * whatever this accepts, zod accepts with the same values.
 *
 * Why: zod's parse was ~1.2 µs of the ~1.75 µs per job of validation in the batched-schedule profile
 * (BENCHMARKS.md); these checks cost ~0.08 µs (micro-benchmark, 2026-12-02). With the payload fast path,
 * `prepareJob` for the bench's job went from 4.0 to 1.5 µs on a loaded 2-vCPU VM.
 */
export function parseCommonOptions(input: object): ParsedOptions | undefined {
  if (!isPlainObject(input)) return undefined;
  for (const name in input) if (!OPTION_NAMES.has(name)) return undefined;
  // Named reads, not a loop over the rules: a read by a computed name costs more than the checks.
  const { handler, at, delayMs, cron, timezone, everyMs, key, priority, maxAttempts, backoff, expiresAt } =
    input;
  if (
    !passes(R.handler, handler) ||
    (at !== undefined && !passes(R.at, at)) ||
    (delayMs !== undefined && !passes(R.delayMs, delayMs)) ||
    (cron !== undefined && !passes(R.cron, cron)) ||
    (timezone !== undefined && !passes(R.timezone, timezone)) ||
    (everyMs !== undefined && !passes(R.everyMs, everyMs)) ||
    (key !== undefined && !passes(R.key, key)) ||
    (priority !== undefined && !passes(R.priority, priority)) ||
    (maxAttempts !== undefined && !passes(R.maxAttempts, maxAttempts)) ||
    (expiresAt !== undefined && !passes(R.expiresAt, expiresAt))
  ) {
    return undefined;
  }
  if (backoff !== undefined) {
    if (!isPlainObject(backoff)) return undefined;
    for (const name in backoff) if (!BACKOFF_NAMES.has(name)) return undefined;
    if (
      (backoff.type !== 'fixed' && backoff.type !== 'exponential') ||
      (backoff.delayMs !== undefined && !passes(BACKOFF_RULES.delayMs, backoff.delayMs)) ||
      (backoff.maxDelayMs !== undefined && !passes(BACKOFF_RULES.maxDelayMs, backoff.maxDelayMs))
    ) {
      return undefined;
    }
  }
  return input as unknown as ParsedOptions;
}

/** `scheduleOptionsSchema`'s verdict: the parsed options, or a ValidationError naming the first issue. */
function parseOptions(input: object, field: string): ParsedOptions {
  const parsed = scheduleOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path;
    const expected =
      issue.code === 'unrecognized_keys' ? 'only the documented schedule options' : issue.message;
    throw new ValidationError(
      fieldPath(field, path),
      readPath(input, path),
      expected.replace(/^Invalid input: /, ''),
    );
  }
  return parsed.data as ParsedOptions;
}

const TIMINGS = ['at', 'delayMs', 'cron', 'everyMs'] as const;

function timingsOf(options: ParsedOptions): Array<(typeof TIMINGS)[number]> {
  return TIMINGS.filter((name) => options[name] !== undefined);
}

/**
 * `name => field.name`. Made here because a closure declared in `prepareJob` (`const f = …`) gets esbuild's
 * keepNames treatment under tsx, a `defineProperty` per job: ~5% of the batched-schedule profile.
 */
function fieldNamer(field: string): (name: string) => string {
  return (name) => `${field}.${name}`;
}

function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map(String)].filter(Boolean).join('.');
}

function readPath(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const part of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[part];
  return value;
}

function toMs(field: string, value: Date | number): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME_MS) {
    throw new ValidationError(field, value, 'a valid Date or epoch milliseconds between 0 and 8.64e15');
  }
  return Math.floor(ms);
}

type MutableHeader = { -readonly [K in keyof JobHeader]?: JobHeader[K] };

/**
 * The first run time of a job, from its one timing option (`at`, `delayMs`, `everyMs` or `cron`); a
 * series' fields go into `header` (`e`; `c`, `z` and the precomputed next occurrence `n`).
 */
function runAtOf(
  options: ParsedOptions,
  now: number,
  f: (name: string) => string,
  header: MutableHeader,
): number {
  if (options.at !== undefined) {
    return Math.max(toMs(f('at'), options.at), now);
  } else if (options.delayMs !== undefined) {
    return now + Math.floor(options.delayMs);
  } else if (options.everyMs !== undefined) {
    header.e = options.everyMs;
    return now + options.everyMs;
  }
  const expression = options.cron!.trim();
  const fields = expression.split(/\s+/).length;
  if (!expression.startsWith('@') && fields !== 5 && fields !== 6) {
    throw new ValidationError(
      f('cron'),
      options.cron,
      'a cron expression of 5 fields, or 6 with seconds first',
    );
  }
  const timezone = options.timezone ?? 'UTC';
  if (!isKnownTimeZone(timezone)) {
    throw new ValidationError(f('timezone'), timezone, 'an IANA time zone such as Europe/Berlin');
  }
  try {
    compileCron({ expression, timezone });
  } catch (error) {
    throw new ValidationError(
      f('cron'),
      options.cron,
      `a valid cron expression (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  const first = nextCronOccurrence({ expression, timezone }, now);
  if (first === undefined)
    throw new ValidationError(f('cron'), options.cron, 'a cron expression with a future occurrence');
  header.c = expression;
  if (timezone !== 'UTC') header.z = timezone;
  const second = nextCronOccurrence({ expression, timezone }, first);
  if (second !== undefined) header.n = second;
  return first;
}

/** The stored form of a backoff option (`b`: kind, delay, cap); throws when the cap is below the delay. */
function storedBackoffOf(options: BackoffOptions, f: (name: string) => string): StoredBackoff {
  const delayMs = options.delayMs ?? DEFAULT_BACKOFF[1];
  const backoff: StoredBackoff = [
    options.type === 'fixed' ? 'f' : 'e',
    delayMs,
    // An unset cap never rejects a delayMs above the default cap.
    options.maxDelayMs ?? Math.max(DEFAULT_BACKOFF[2], delayMs),
  ];
  if (backoff[2] < backoff[1]) {
    throw new ValidationError(
      f('backoff.maxDelayMs'),
      backoff[2],
      `at least backoff.delayMs (${backoff[1]})`,
    );
  }
  return backoff;
}

/** Validates one job; `field` prefixes error paths (e.g. `jobs[3]`). Throws ValidationError. */
export function prepareJob(input: unknown, context: PrepareContext, field = 'options'): PreparedJob {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError(field, input, 'an object of schedule options');
  }
  const options = parseCommonOptions(input) ?? parseOptions(input, field);
  const f = fieldNamer(field);

  if (!isValidHandlerName(options.handler)) {
    throw new ValidationError(
      f('handler'),
      options.handler,
      'a name matching [A-Za-z0-9][A-Za-z0-9_.-]{0,63}',
    );
  }
  if (context.knownHandlers && !context.knownHandlers.has(options.handler)) {
    throw new UnknownHandlerError(f('handler'), options.handler, [...context.knownHandlers]);
  }

  const timingCount =
    +(options.at !== undefined) +
    +(options.delayMs !== undefined) +
    +(options.cron !== undefined) +
    +(options.everyMs !== undefined);
  if (timingCount !== 1) {
    const timings = timingsOf(options);
    throw new ValidationError(
      field,
      timings.length === 0 ? 'no timing option' : timings.join(' and '),
      'exactly one of at, delayMs, cron or everyMs',
    );
  }
  if (options.timezone !== undefined && options.cron === undefined) {
    throw new ValidationError(f('timezone'), options.timezone, 'timezone only together with cron');
  }

  const now = context.now;
  const header: MutableHeader = { h: options.handler };
  const runAt = runAtOf(options, now, f, header);
  if (runAt > MAX_TIME_MS) {
    const timings = timingsOf(options);
    throw new ValidationError(
      f(timings[0]!),
      options[timings[0]!],
      'a run time no later than 8.64e15 ms after the epoch (the largest Date)',
    );
  }
  header.r = runAt;

  if (options.expiresAt !== undefined) {
    const expiresAt = toMs(f('expiresAt'), options.expiresAt);
    if (expiresAt < runAt) {
      throw new ValidationError(
        f('expiresAt'),
        options.expiresAt,
        `a time at or after the run time (${new Date(runAt).toISOString()})`,
      );
    }
    header.x = expiresAt;
  }
  if (options.maxAttempts !== undefined && options.maxAttempts !== DEFAULT_MAX_ATTEMPTS)
    header.m = options.maxAttempts;
  if (options.priority) header.p = options.priority;
  if (options.backoff) {
    const backoff = storedBackoffOf(options.backoff, f);
    if (backoff.join() !== DEFAULT_BACKOFF.join()) header.b = backoff;
  }
  if (options.key !== undefined) header.k = options.key;

  const payload = options.payload ?? null;
  const payloadJson =
    serializeCommonPayload(payload, context.maxPayloadBytes) ??
    serializePayload(f('payload'), payload, context.maxPayloadBytes);
  const id = newJobId(runAt);
  const recurring = header.e !== undefined || header.c !== undefined;
  const park = recurring ? undefined : parkSlotFor(runAt, now, context.parkAfterMs ?? DEFAULT_PARK_AFTER_MS);
  return {
    id,
    handler: options.handler,
    runAt,
    key: options.key ?? '',
    priority: options.priority ?? 0,
    extras: encodeScheduleExtras(id, header as Omit<JobHeader, 'v'>),
    payloadJson,
    routingKey: options.key ?? id,
    ...(park ? { park } : {}),
  };
}

export { DEFAULT_BACKOFF };
