/**
 * A tick process for the kill and takeover tests (`node --import tsx test/support/tick-child.ts`).
 *
 * It runs `TickLoop.run` (second mode) on its own connection. Its publisher appends one JSON line per
 * published task to a file, synchronously, before `publish` returns: the file is exactly what reached
 * "EventBridge" even if the process is killed a moment later. With `hangAfter`, every publish hangs once
 * that many lines are written, so the process can be killed mid-batch at a known point.
 *
 * Options come as JSON in the TICK_CHILD environment variable. It sends `{ ready: ownerId }` over IPC once
 * the loop is running, and stops cleanly (releasing the leader lease) on an IPC `'stop'` or SIGTERM.
 */
import { appendFileSync } from 'node:fs';
import { Engine } from '../../src/core/engine.js';
import type { Publisher, PublishResult, TaskEventDetail } from '../../src/core/types.js';
import { connect } from '../../src/redis/connection.js';
import { TickLoop } from '../../src/tick/loop.js';

export interface TickChildOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  /** File to append published tasks to, one JSON line each (see PublishedLine). */
  readonly out: string;
  readonly ownerId: string;
  readonly leaseMs: number;
  readonly leaderLeaseMs: number;
  /** @default 1000 */
  readonly batchSize?: number;
  /** Publish this many tasks, then hang in every publish call. @default - never */
  readonly hangAfter?: number;
}

/** One line of the output file. */
export interface PublishedLine {
  readonly owner: string;
  readonly id: string;
  readonly handler: string;
  readonly shard: number;
  readonly attempt: number;
  readonly idempotencyKey: string;
  readonly claimToken: string;
  readonly leaseUntil: number;
}

class FilePublisher implements Publisher {
  #written = 0;
  constructor(readonly options: TickChildOptions) {}

  async publish(tasks: readonly TaskEventDetail[]): Promise<PublishResult> {
    for (const task of tasks) {
      if (this.options.hangAfter !== undefined && this.#written >= this.options.hangAfter) {
        await new Promise<never>(() => undefined);
      }
      const line: PublishedLine = {
        owner: this.options.ownerId,
        id: task.id,
        handler: task.handler,
        shard: task.shard,
        attempt: task.attempt,
        idempotencyKey: task.idempotencyKey,
        claimToken: task.claimToken,
        leaseUntil: task.leaseUntil,
      };
      appendFileSync(this.options.out, `${JSON.stringify(line)}\n`);
      this.#written++;
    }
    return { failed: [] };
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.TICK_CHILD ?? '') as TickChildOptions;
  const redis = connect(options.redisUrl);
  const engine = new Engine(redis, { namespace: options.namespace });
  const loop = new TickLoop({
    engine,
    publisher: new FilePublisher(options),
    leaseMs: options.leaseMs,
    leaderLeaseMs: options.leaderLeaseMs,
    batchSize: options.batchSize ?? 1000,
    ownerId: options.ownerId,
  });
  const stop = () => loop.stop();
  process.on('SIGTERM', stop);
  process.on('message', (message) => {
    if (message === 'stop') stop();
  });
  const running = loop.run(Date.now() + 10 * 60_000);
  process.send?.({ ready: options.ownerId });
  await running;
  await redis.quit();
  process.disconnect?.();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
