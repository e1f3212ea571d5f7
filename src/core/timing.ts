/**
 * Occurrence arithmetic for recurring jobs. Cron parsing and time-zone math come from `croner` (no
 * dependencies, IANA zones through Intl, DST-aware); this module only decides which occurrence is next.
 */
import { Cron } from 'croner';

export interface CronSpec {
  readonly expression: string;
  readonly timezone: string;
}

const cache = new Map<string, Cron>();

function cronFor(spec: CronSpec): Cron {
  const id = `${spec.timezone}\u0000${spec.expression}`;
  let cron = cache.get(id);
  if (!cron) {
    cron = new Cron(spec.expression, { timezone: spec.timezone, paused: true, mode: 'auto' });
    if (cache.size > 1000) cache.clear();
    cache.set(id, cron);
  }
  return cron;
}

/** Throws croner's error when the expression or zone is invalid. */
export function compileCron(spec: CronSpec): void {
  cronFor(spec);
}

/** The first occurrence strictly after `afterMs`, or undefined when the expression has no more. */
export function nextCronOccurrence(spec: CronSpec, afterMs: number): number | undefined {
  const next = cronFor(spec).nextRun(new Date(afterMs));
  return next ? next.getTime() : undefined;
}

/** True when `name` is an IANA time zone this runtime knows. */
export function isKnownTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export type BackoffKind = 'fixed' | 'exponential';

/** Delay before retry number `attempt` (1 = after the first failure). */
export function backoffDelayMs(kind: BackoffKind, baseMs: number, capMs: number, attempt: number): number {
  if (kind === 'fixed') return Math.min(baseMs, capMs);
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(baseMs * 2 ** exponent, capMs);
}
