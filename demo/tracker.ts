/**
 * Counts what happens in the demo: handler runs, outcomes per handler, lateness (due → handler start, on
 * the first attempt of each occurrence) and throughput over a sliding window.
 */
import type { TaskEventDetail } from '../src/core/types.js';
import type { Task, TaskOutcome } from '../src/handler/task-handler.js';
import type { HandlerFn } from './scenario.js';

export interface HandlerCounts {
  runs: number;
  done: number;
  retried: number;
  dead: number;
  other: number;
  readonly lateness: number[];
}

/** The value below which `p` of the sorted samples fall (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export class Tracker {
  readonly startedAt = Date.now();
  readonly byHandler = new Map<string, HandlerCounts>();
  running = 0;
  readonly #finishedAt: number[] = [];

  #counts(handler: string): HandlerCounts {
    let counts = this.byHandler.get(handler);
    if (!counts) {
      counts = { runs: 0, done: 0, retried: 0, dead: 0, other: 0, lateness: [] };
      this.byHandler.set(handler, counts);
    }
    return counts;
  }

  /** Wraps a handler to record its start (lateness on attempt 1) and how many run at once. */
  wrap(name: string, fn: HandlerFn): HandlerFn {
    return async (task: Task) => {
      const counts = this.#counts(name);
      counts.runs++;
      if (task.attempt === 1) counts.lateness.push(Math.max(0, Date.now() - task.scheduledFor.getTime()));
      this.running++;
      try {
        return await fn(task);
      } finally {
        this.running--;
      }
    };
  }

  /** The `onOutcome` callback of startLocal. */
  readonly onOutcome = (
    task: TaskEventDetail,
    outcome: TaskOutcome<unknown> | { status: 'error'; error: unknown },
  ): void => {
    const counts = this.#counts(task.handler);
    this.#finishedAt.push(Date.now());
    if (outcome.status === 'succeeded' || outcome.status === 'duplicate') counts.done++;
    else if (outcome.status === 'retrying') counts.retried++;
    else if (outcome.status === 'dead') counts.dead++;
    else counts.other++;
  };

  total(field: 'runs' | 'done' | 'retried' | 'dead' | 'other'): number {
    let sum = 0;
    for (const counts of this.byHandler.values()) sum += counts[field];
    return sum;
  }

  /** Lateness samples of every handler except those listed (e.g. the rate-limited one). */
  lateness(except: ReadonlySet<string> = new Set()): number[] {
    const all: number[] = [];
    for (const [name, counts] of this.byHandler) if (!except.has(name)) all.push(...counts.lateness);
    return sortedCopy(all);
  }

  /** Handler runs finished per second over the last `windowMs`. */
  throughput(windowMs = 5000, now = Date.now()): number {
    const since = now - windowMs;
    while (this.#finishedAt.length > 0 && this.#finishedAt[0]! < now - 60_000) this.#finishedAt.shift();
    const recent = this.#finishedAt.filter((t) => t >= since).length;
    const span = Math.min(windowMs, Math.max(1, now - this.startedAt));
    return (recent * 1000) / span;
  }
}
