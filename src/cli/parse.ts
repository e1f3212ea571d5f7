/**
 * Parsers for command-line values: durations (`30s`, `5m`, `7d`, `1h30m`, `250ms`), times (ISO 8601 or
 * epoch milliseconds), integers in a range and JSON payloads. Each throws a `CliError` that names the flag.
 */
import type { JsonValue } from '../core/types.js';
import { invalidOption } from './errors.js';

const UNIT_MS = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
const DURATION_HELP = 'a duration such as 250ms, 30s, 5m, 1h30m or 7d';

/** Milliseconds in a duration like `30s`, `5m`, `1h30m`, `7d` or `250ms`. Throws for anything else. */
export function parseDuration(flag: string, text: string): number {
  const compact = text.trim().toLowerCase();
  if (!DURATION.test(compact)) throw invalidOption(flag, text, DURATION_HELP);
  let total = 0;
  for (const [, amount, unit] of compact.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  total = Math.round(total);
  if (!Number.isSafeInteger(total)) throw invalidOption(flag, text, DURATION_HELP);
  return total;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Epoch ms from ISO 8601 (`2026-12-01T09:00:00Z`) or epoch milliseconds (`1796115600000`). */
export function parseTime(flag: string, text: string): number {
  const trimmed = text.trim();
  const expected = 'an ISO 8601 time such as 2026-12-01T09:00:00Z, or epoch milliseconds';
  if (/^\d+$/.test(trimmed)) {
    const ms = Number(trimmed);
    if (!Number.isSafeInteger(ms) || ms > 8.64e15) throw invalidOption(flag, text, expected);
    return ms;
  }
  if (!ISO_DATE.test(trimmed)) throw invalidOption(flag, text, expected);
  const ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw invalidOption(flag, text, expected);
  return ms;
}

/** An integer from `min` to `max`. */
export function parseInteger(flag: string, text: string, min: number, max: number): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^-?\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidOption(flag, text, `an integer from ${min} to ${max}`);
  }
  return value;
}

/** A JSON document (the task payload). */
export function parseJson(flag: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw invalidOption(
      flag,
      text.length > 60 ? `${text.slice(0, 57)}...` : text,
      `valid JSON (${(error as Error).message})`,
    );
  }
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw invalidOption(flag, text, `one of ${choices.join(', ')}`);
}
