/**
 * A handler process killed with SIGKILL in the middle of a batch (test/support/batch-handler-child.ts):
 * the tasks it finished are acked, the rest stay in flight under their claims (nothing lost); once their
 * lease has passed and the dead invocation's "in progress" records have expired (at its deadline, which
 * is before the lease ends), a redelivery runs each of them once, and the finished ones never again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import { TASK_BATCH_EVENT_VERSION, type TaskEventDetail } from '../../src/core/types.js';
import { recordKeyOf, recordState } from '../../src/handler/executions.js';
import { type Task, taskHandler } from '../../src/handler/task-handler.js';
import { silentLogger } from '../../src/observability/logger.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import type { BatchChildOptions } from '../support/batch-handler-child.js';
import { eventually, newClient, randomNamespace, redisUrl } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const HANDLER = 'work';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

function batchEvent(tasks: readonly TaskEventDetail[]): unknown {
  const first = tasks[0]!;
  return {
    version: '0',
    id: 'evt',
    'detail-type': 'tickset.task',
    source: 'tickset',
    time: new Date().toISOString(),
    detail: {
      v: TASK_BATCH_EVENT_VERSION,
      handler: first.handler,
      namespace: first.namespace,
      shard: first.shard,
      tasks: tasks.map((t) => ({
        id: t.id,
        payload: t.payload,
        attempt: t.attempt,
        idempotencyKey: t.idempotencyKey,
        scheduledFor: t.scheduledFor,
        claimToken: t.claimToken,
        leaseUntil: t.leaseUntil,
      })),
    },
  };
}

function started(out: string): number[] {
  if (!existsSync(out)) return [];
  return readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number);
}

describe('handler killed with SIGKILL mid-batch', () => {
  it('finished tasks stay acked, the others are redelivered after the lease and run once', async () => {
    const engine = new Engine(redis, { namespace: randomNamespace('bkill') });
    const scheduler = new Scheduler({ redis, namespace: engine.namespace });
    const at = Date.now();
    // 10 tasks, 2 at a time: 0, 2, 3, 4 finish; 1 and 5 hang and hold both slots; 6 to 9 never start.
    await scheduler.scheduleMany(
      Array.from({ length: 10 }, (_, i) => ({
        handler: HANDLER,
        payload: i === 1 || i === 5 ? { i, hang: true } : { i, hang: false },
        at,
        maxAttempts: 5,
      })),
    );
    const { tasks } = await promoteClaim(engine, [spec(HANDLER, 10, { leaseMs: 60_000 })], Date.now());
    expect(tasks).toHaveLength(10);
    const out = join(mkdtempSync(join(tmpdir(), 'tickset-bkill-')), 'started.txt');
    const options: BatchChildOptions = {
      redisUrl: redisUrl(),
      namespace: engine.namespace,
      event: batchEvent(tasks),
      out,
      // The dead invocation's records stay "in progress" until its deadline: short, so the test can wait
      // for it. Long enough that the hanging tasks do not time out before the kill.
      remainingMs: 2_500,
      concurrency: 2,
    };
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test/support/batch-handler-child.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, BATCH_CHILD: JSON.stringify(options) },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const exited = new Promise<unknown>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code)),
    );
    const inflightKey = engine.keys(0).inflight(HANDLER);
    // Mid-batch: both slots held by the hanging tasks, the four others acked.
    await eventually(async () => started(out).length === 6 && (await redis.zcard(inflightKey)) === 6);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(started(out).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    const left = new Set(await redis.zrange(inflightKey, 0, -1));
    const byI = (i: number) => tasks.find((t) => (t.payload as { i: number }).i === i)!;
    expect([...left].sort()).toEqual([1, 5, 6, 7, 8, 9].map((i) => byI(i).id).sort());
    // The records of the unfinished tasks are "in progress", never completed.
    const prefix = engine.keys(0).idempotencyPrefix;
    for (const i of [1, 5, 6, 7, 8, 9]) {
      const raw = await redis.get(recordKeyOf(prefix, byI(i).idempotencyKey));
      expect(raw).not.toBeNull();
      expect(recordState(raw!, Date.now())).toBe('running');
    }
    // The dead invocation's deadline passes (long before the 60 s lease would).
    await eventually(async () => {
      for (const i of [1, 5, 6, 7, 8, 9]) {
        const raw = await redis.get(recordKeyOf(prefix, byI(i).idempotencyKey));
        if (raw !== null && recordState(raw, Date.now()) === 'running') return false;
      }
      return true;
    }, 15_000);

    // The lease ends: the tick requeues them and claims them again; the batch is redelivered.
    const later = Date.now() + 61_000;
    const requeued = await engine.requeueExpired(0, [HANDLER], later, 100);
    expect(requeued).toEqual({ requeued: 6, dead: 0 });
    const again = await promoteClaim(engine, [spec(HANDLER, 10, { leaseMs: 60_000 })], later);
    expect(again.tasks.map((t) => (t.payload as { i: number }).i).sort()).toEqual([1, 5, 6, 7, 8, 9]);
    const ran: number[] = [];
    const handle = taskHandler(async (task: Task<{ i: number }>) => void ran.push(task.payload.i), {
      engine,
      logger: silentLogger,
      metrics: new InMemoryMetrics(),
    });
    const end = Date.now() + 60_000;
    const outcome = await handle(batchEvent(again.tasks), {
      getRemainingTimeInMillis: () => end - Date.now(),
    } as unknown as Context);
    expect(outcome.status).toBe('batch');
    expect(ran.sort((a, b) => a - b)).toEqual([1, 5, 6, 7, 8, 9]);
    expect(await redis.zcard(inflightKey)).toBe(0);
    expect(await redis.hlen(engine.keys(0).jobs)).toBe(0);
  }, 30_000);
});
