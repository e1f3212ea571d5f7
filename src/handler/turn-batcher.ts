/**
 * Collects the calls made while one callback's promise continuations run and sends them as one batch per group (a shard, or a
 * shard and handler): the handler wrapper's "in progress" and "completed + ack" steps of concurrent tasks
 * become one script call each (see `src/client/schedule-coalescer.ts` for the same pattern on schedule).
 *
 * Why: each Redis command costs ioredis a fixed amount of Node CPU (building and writing the command,
 * parsing the reply, resolving its promise) and Redis its own fixed cost per script call; with 100 tasks
 * in flight, one call per turn carries ~100 tasks for the price of one. In a Lambda, which handles one
 * event at a time, a batch holds one task: the same code path runs locally and on AWS.
 *
 * The batch goes out on `process.nextTick`: after every promise continuation of the current callback (so
 * the tasks that a reply released are all in it), but before the next I/O callback runs. With the local
 * runtime's handler connections, that is what lets Redis work on one connection's batch while Node
 * handles another connection's reply (a flush on `setImmediate` held it until every reply read in the
 * same poll phase was handled: the connections fell into step, ~15% less throughput, BENCHMARKS.md).
 *
 * Each call gets its own entry of the batch's reply. A batch that fails as a whole (a connection error,
 * a script error) rejects every call of that batch with that error, as each would have met it alone.
 */

interface Pending<In, Out> {
  readonly item: In;
  resolve(result: Out): void;
  reject(error: unknown): void;
}

/** Sends one batch of one group; returns one result per item, in order. */
export type SendBatch<G, In, Out> = (group: G, items: readonly In[]) => Promise<readonly Out[]>;

/** Most items in one batch: well under Lua's unpack() and KEYS limits. */
export const MAX_BATCH = 1000;

export class TurnBatcher<G, In, Out> {
  readonly #send: SendBatch<G, In, Out>;
  readonly #groupOf: (item: In) => string;
  readonly #groupValue: (item: In) => G;
  #pending = new Map<string, { group: G; calls: Array<Pending<In, Out>> }>();
  #flushScheduled = false;

  constructor(options: {
    send: SendBatch<G, In, Out>;
    /** A string that identifies an item's group (items of one group share a batch). */
    groupKey: (item: In) => string;
    /** The group handed to `send`. */
    group: (item: In) => G;
  }) {
    this.#send = options.send;
    this.#groupOf = options.groupKey;
    this.#groupValue = options.group;
  }

  add(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      const key = this.#groupOf(item);
      let entry = this.#pending.get(key);
      if (!entry) {
        entry = { group: this.#groupValue(item), calls: [] };
        this.#pending.set(key, entry);
      }
      entry.calls.push({ item, resolve, reject });
      if (entry.calls.length >= MAX_BATCH) {
        this.#pending.delete(key);
        void this.#run(entry.group, entry.calls);
      } else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const { group, calls } of pending.values()) void this.#run(group, calls);
  }

  async #run(group: G, calls: ReadonlyArray<Pending<In, Out>>): Promise<void> {
    try {
      const results = await this.#send(
        group,
        calls.map((c) => c.item),
      );
      for (let i = 0; i < calls.length; i++) calls[i]!.resolve(results[i]!);
    } catch (error) {
      for (const c of calls) c.reject(error);
    }
  }
}
