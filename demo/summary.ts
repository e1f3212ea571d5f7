/** The report printed when the demo ends: counts per handler, lateness, throughput and the dead set. */

import type { JobInfo } from '../src/core/inspect.js';
import { formatTime, table, truncate } from '../src/format.js';
import { RATE_LIMITED } from './scenario.js';
import { ms } from './status.js';
import { percentile, sortedCopy, type Tracker } from './tracker.js';

export interface SummaryInput {
  readonly tracker: Tracker;
  readonly elapsedMs: number;
  readonly namespace: string;
  readonly dead: readonly JobInfo[];
  /** Size of the dead set (may exceed `dead.length`, which is capped). */
  readonly deadTotal: number;
}

export function summary(input: SummaryInput): string {
  const { tracker } = input;
  const names = [...tracker.byHandler.keys()].sort();
  const rows = names.map((name) => {
    const c = tracker.byHandler.get(name)!;
    const late = sortedCopy(c.lateness);
    return [
      name,
      c.runs,
      c.done,
      c.retried,
      c.dead,
      ms(percentile(late, 50)),
      ms(percentile(late, 99)),
      ms(late.at(-1)),
    ];
  });
  const done = tracker.total('done');
  const retried = tracker.total('retried');
  const deadRuns = tracker.total('dead');
  const runs = tracker.total('runs');
  rows.push(['total', runs, done, retried, deadRuns, '', '', '']);
  const lateness = tracker.lateness(new Set([RATE_LIMITED]));
  const seconds = input.elapsedMs / 1000;
  const lines = [
    '',
    `tickset demo: summary after ${seconds.toFixed(1)} s (namespace ${input.namespace})`,
    '',
    table(['HANDLER', 'RUNS', 'DONE', 'RETRIED', 'DEAD', 'LATE P50', 'P99', 'MAX'], rows),
    '',
    `lateness (due -> handler start, first attempts, without ${RATE_LIMITED}, which waits by design): ` +
      `p50 ${ms(percentile(lateness, 50))}, p99 ${ms(percentile(lateness, 99))}, max ${ms(lateness.at(-1))} ` +
      `over ${lateness.length} tasks`,
    `throughput: ${(runs / Math.max(seconds, 0.001)).toFixed(1)} handler runs/s on average`,
    `totals: done=${done} retried=${retried} dead=${input.deadTotal}`,
    '',
    `dead set (${input.deadTotal}):`,
  ];
  if (input.dead.length === 0) lines.push('  (empty)');
  for (const job of input.dead) {
    lines.push(
      `  ${job.id}  ${job.handler}  after ${job.attempt}/${job.maxAttempts} attempts` +
        (job.failedAt ? ` at ${formatTime(job.failedAt)}` : '') +
        `  ${job.lastReason ?? 'error'}: ${truncate(job.lastError ?? '', 100)}`,
    );
  }
  if (input.deadTotal > input.dead.length)
    lines.push(`  ... and ${input.deadTotal - input.dead.length} more`);
  return lines.join('\n');
}
