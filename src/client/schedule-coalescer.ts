/**
 * Coalesces `schedule()` calls made close together into one `schedule.lua` call per shard.
 *
 * Why: one Lua call per job costs the script's fixed setup in Redis (~13 µs) and ioredis's per-command
 * work in Node (~40 µs with 50 calls in flight, BENCHMARKS.md); the same jobs in one call cost a few µs
 * each. Calls are collected until the current event-loop turn ends (`setImmediate`), so a burst of
 * replies that each trigger a new `schedule()` lands in one batch, and a lone call waits one turn at most.
 *
 * Semantics are those of the calls run one after another, in call order:
 * - `schedule.lua` applies a batch in order, atomically, so an upsert later in a batch wins, exactly as
 *   it would as a later call.
 * - A batch is all-or-nothing. When Redis rejects it for a reason that belongs to one job (a key that
 *   belongs to another handler), nothing was written, so the coalescer replays that batch one job at a
 *   time, in order: only the call at fault gets the error. Any other failure (connection, timeout) is
 *   given to every call of the batch, as each would have met it on its own.
 */
import type { PreparedJob } from '../core/prepare.js';
import { KeyHandlerConflictError } from '../errors.js';
import type { ScheduleResult } from './scheduler.js';

/** Writes jobs (one script call per shard) and returns their results in order. */
export type WriteJobs = (jobs: readonly PreparedJob[]) => Promise<ScheduleResult[]>;

interface Pending {
  readonly job: PreparedJob;
  resolve(result: ScheduleResult): void;
  reject(error: unknown): void;
}

/** Most jobs in one coalesced batch: the bench's batch size, well under Lua's unpack() limits. */
export const MAX_COALESCED_JOBS = 1000;

export class ScheduleCoalescer {
  readonly #write: WriteJobs;
  #pending: Pending[] = [];
  #flushScheduled = false;

  constructor(write: WriteJobs) {
    this.#write = write;
  }

  /** Queues one validated job; resolves when the batch that carries it is written. */
  add(job: PreparedJob): Promise<ScheduleResult> {
    return new Promise<ScheduleResult>((resolve, reject) => {
      this.#pending.push({ job, resolve, reject });
      if (this.#pending.length >= MAX_COALESCED_JOBS) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    void this.#send(batch);
  }

  async #send(batch: readonly Pending[]): Promise<void> {
    try {
      const results = await this.#write(batch.map((p) => p.job));
      for (const [i, p] of batch.entries()) p.resolve(results[i]!);
    } catch (error) {
      if (batch.length > 1 && isJobSpecific(error)) {
        // Nothing of the batch was written: replay it call by call, in order, so only the culprit fails.
        for (const p of batch) {
          try {
            const [result] = await this.#write([p.job]);
            p.resolve(result!);
          } catch (single) {
            p.reject(single);
          }
        }
        return;
      }
      for (const p of batch) p.reject(error);
    }
  }
}

/** An error caused by one job's content, not by the store: other jobs of its batch would have succeeded. */
function isJobSpecific(error: unknown): boolean {
  return error instanceof KeyHandlerConflictError;
}
