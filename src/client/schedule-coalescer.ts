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

/** Calls waiting for one batch: parallel arrays, so a call costs its promise and no record of its own. */
interface Pending {
  readonly jobs: PreparedJob[];
  readonly resolves: Array<(result: ScheduleResult) => void>;
  readonly rejects: Array<(error: unknown) => void>;
}

const emptyPending = (): Pending => ({ jobs: [], resolves: [], rejects: [] });

/** Most jobs in one coalesced batch: the bench's batch size, well under Lua's unpack() limits. */
export const MAX_COALESCED_JOBS = 1000;

export class ScheduleCoalescer {
  readonly #write: WriteJobs;
  #pending: Pending = emptyPending();
  #flushScheduled = false;
  readonly #flushNow = () => this.#flush();

  constructor(write: WriteJobs) {
    this.#write = write;
  }

  /** Queues one validated job; resolves when the batch that carries it is written. */
  add(job: PreparedJob): Promise<ScheduleResult> {
    const pending = this.#pending;
    const promise = new Promise<ScheduleResult>((resolve, reject) => {
      pending.resolves.push(resolve);
      pending.rejects.push(reject);
    });
    pending.jobs.push(job);
    if (pending.jobs.length >= MAX_COALESCED_JOBS) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushNow);
    }
    return promise;
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.jobs.length === 0) return;
    const batch = this.#pending;
    this.#pending = emptyPending();
    void this.#send(batch);
  }

  async #send({ jobs, resolves, rejects }: Pending): Promise<void> {
    try {
      const results = await this.#write(jobs);
      for (let i = 0; i < jobs.length; i++) resolves[i]!(results[i]!);
    } catch (error) {
      if (jobs.length > 1 && isJobSpecific(error)) {
        // Nothing of the batch was written: replay it call by call, in order, so only the culprit fails.
        for (let i = 0; i < jobs.length; i++) {
          try {
            const [result] = await this.#write([jobs[i]!]);
            resolves[i]!(result!);
          } catch (single) {
            rejects[i]!(single);
          }
        }
        return;
      }
      for (const reject of rejects) reject(error);
    }
  }
}

/** An error caused by one job's content, not by the store: other jobs of its batch would have succeeded. */
function isJobSpecific(error: unknown): boolean {
  return error instanceof KeyHandlerConflictError;
}
