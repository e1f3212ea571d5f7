/**
 * The live status line: due / in flight / done / retried / dead, lateness p50 / p99 and throughput. On a
 * terminal it redraws one line in place four times a second; in a log (not a TTY) it prints a plain line
 * every 2 s.
 */

import type { Stats } from '../src/core/inspect.js';
import { formatDuration } from '../src/format.js';
import { RATE_LIMITED } from './scenario.js';
import { percentile, type Tracker } from './tracker.js';

export interface StatusOptions {
  readonly tracker: Tracker;
  /** Reads the queue counts from Redis. */
  readonly stats: () => Promise<Stats>;
  readonly out: NodeJS.WriteStream;
  /** @default out.isTTY */
  readonly tty?: boolean;
}

export function ms(value: number | undefined): string {
  return value === undefined ? '-' : formatDuration(value);
}

/** The status line; `compact` fits an 80-column terminal. */
export function statusLine(
  tracker: Tracker,
  stats: Stats | undefined,
  now = Date.now(),
  compact = false,
): string {
  const sorted = tracker.lateness(new Set([RATE_LIMITED]));
  const elapsed = `${((now - tracker.startedAt) / 1000).toFixed(1)}s`;
  const due = stats?.due ?? '-';
  const inflight = stats?.inflight ?? tracker.running;
  const dead = stats?.dead ?? tracker.total('dead');
  const p50 = ms(percentile(sorted, 50));
  const p99 = ms(percentile(sorted, 99));
  const rate = tracker.throughput().toFixed(1);
  if (compact) {
    return (
      `${elapsed} due ${due} run ${inflight} done ${tracker.total('done')} retry ${tracker.total('retried')} ` +
      `dead ${dead} p50 ${p50} p99 ${p99} ${rate}/s`
    );
  }
  return [
    `[${elapsed.padStart(6)}]`,
    `due ${due}`,
    `scheduled ${stats?.scheduled ?? '-'}`,
    `in flight ${inflight}`,
    `done ${tracker.total('done')}`,
    `retried ${tracker.total('retried')}`,
    `dead ${dead}`,
    `lateness p50 ${p50} p99 ${p99}`,
    `${rate} tasks/s`,
  ].join(' | ');
}

export class StatusReporter {
  readonly #o: StatusOptions;
  readonly #tty: boolean;
  #timer: NodeJS.Timeout | undefined;
  #latest: Stats | undefined;
  #polling = false;
  #drawn = false;

  constructor(options: StatusOptions) {
    this.#o = options;
    this.#tty = options.tty ?? Boolean(options.out.isTTY);
  }

  start(): void {
    const every = this.#tty ? 250 : 2000;
    this.#timer = setInterval(() => void this.#tick(), every);
  }

  async #tick(): Promise<void> {
    if (!this.#polling) {
      this.#polling = true;
      try {
        this.#latest = await this.#o.stats();
      } catch {
        // keep the last counts; the next poll tries again
      } finally {
        this.#polling = false;
      }
    }
    this.#draw();
  }

  #draw(): void {
    if (this.#tty) {
      const width = (this.#o.out.columns || 120) - 1;
      let line = statusLine(this.#o.tracker, this.#latest);
      if (line.length > width)
        line = statusLine(this.#o.tracker, this.#latest, Date.now(), true).slice(0, width);
      this.#o.out.write(`\r\x1b[2K${line}`);
      this.#drawn = true;
    } else {
      this.#o.out.write(`${statusLine(this.#o.tracker, this.#latest)}\n`);
    }
  }

  /** Stops redrawing and leaves the cursor on a fresh line. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#tty && this.#drawn) this.#o.out.write('\n');
    this.#drawn = false;
  }
}
