/**
 * A handler process for the SIGKILL-mid-batch test (`node --import tsx test/support/batch-handler-child.ts`).
 *
 * It runs `taskHandler` on one batch event (JSON in the BATCH_CHILD environment variable) with a Lambda-like
 * context whose deadline is `remainingMs` away. The function appends the task's payload `i` to `out`,
 * synchronously, when it starts; a task whose payload has `hang: true` never finishes. The parent kills the
 * process with SIGKILL mid-batch.
 */
import { appendFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import { Engine } from '../../src/core/engine.js';
import { taskHandler } from '../../src/handler/task-handler.js';
import { silentLogger } from '../../src/observability/logger.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { connect } from '../../src/redis/connection.js';

export interface BatchChildOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  readonly event: unknown;
  readonly out: string;
  readonly remainingMs: number;
  readonly concurrency: number;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BATCH_CHILD ?? '') as BatchChildOptions;
  const engine = new Engine(connect(options.redisUrl), { namespace: options.namespace });
  const end = Date.now() + options.remainingMs;
  const context = { getRemainingTimeInMillis: () => end - Date.now() } as unknown as Context;
  const handle = taskHandler(
    async (task) => {
      const payload = task.payload as { i: number; hang?: boolean };
      appendFileSync(options.out, `${payload.i}\n`);
      if (payload.hang) await new Promise<never>(() => undefined);
    },
    {
      engine,
      logger: silentLogger,
      metrics: new InMemoryMetrics(),
      batch: { concurrency: options.concurrency, marginMs: 0 },
    },
  );
  await handle(options.event, context);
}

void main();
