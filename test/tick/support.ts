/** Shared by the tick tests: a publisher that records what it was handed, and how. */
import type { Publisher, PublishResult, TaskEventDetail } from '../../src/core/types.js';

export interface Publication {
  readonly task: TaskEventDetail;
  /** The loop's clock when `publish` was called. */
  readonly at: number;
  readonly by: string;
}

export class RecordingPublisher implements Publisher {
  readonly published: Publication[] = [];
  readonly calls: TaskEventDetail[][] = [];
  readonly #clock: () => number;
  readonly #by: string;
  /** Decides per call which tasks fail (`error` text) or throws; default: all delivered. */
  onPublish: (tasks: readonly TaskEventDetail[]) => Promise<Map<string, string>> | Map<string, string> = () =>
    new Map();

  constructor(clock: () => number = Date.now, by = 'publisher') {
    this.#clock = clock;
    this.#by = by;
  }

  async publish(tasks: readonly TaskEventDetail[]): Promise<PublishResult> {
    const at = this.#clock();
    this.calls.push([...tasks]);
    const failures = await this.onPublish(tasks);
    for (const task of tasks) if (!failures.has(task.id)) this.published.push({ task, at, by: this.#by });
    return {
      failed: tasks
        .filter((t) => failures.has(t.id))
        .map((task) => ({ task, error: failures.get(task.id)! })),
    };
  }

  ids(): string[] {
    return this.published.map((p) => p.task.id);
  }
}

/** How many times each value occurs. */
export function countBy<T>(values: readonly T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}
