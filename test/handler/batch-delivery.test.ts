/**
 * Batched delivery end to end on a real Redis: the tick (TickLoop.pass) claims, the EventBridge publisher
 * packs tasks of one handler and one shard into one entry and sends it through the real SDK client to the
 * loopback PutEvents server, and the wrapper runs each delivered entry as a batch. Covers packing limits,
 * a failing task, a timeout mid-batch, tasks released at the invocation's deadline, duplicate delivery of
 * a whole batch, a failed entry (all its tasks released), and an old wrapper meeting a batch.
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context } from 'aws-lambda';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import type { TaskBatchDetail, TaskEventDetail } from '../../src/core/types.js';
import { MalformedEventError } from '../../src/errors.js';
import { parseTaskEvent } from '../../src/handler/event.js';
import { type Task, type TaskOutcome, taskHandler } from '../../src/handler/task-handler.js';
import { silentLogger } from '../../src/observability/logger.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { putEventsEntrySize } from '../../src/publish/entry-size.js';
import { EventBridgePublisher } from '../../src/publish/eventbridge.js';
import { packTasks, resolveBatchPolicy } from '../../src/publish/pack.js';
import { TickLoop } from '../../src/tick/loop.js';
import { makeTasks, noSleep } from '../publish/fixtures.js';
import { newClient, randomNamespace } from '../support/context.js';
import {
  type EventBridgeLoopback,
  type FaultPlan,
  startEventBridgeLoopback,
} from '../support/eventbridge-loopback.js';

let redis: Redis;
let loop: EventBridgeLoopback;
let client: EventBridgeClient;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});
let plan: FaultPlan = () => 'ok';
beforeEach(async () => {
  plan = () => 'ok';
  loop = await startEventBridgeLoopback({ faultPlan: (i, e) => plan(i, e) });
  client = loop.createClient();
});
afterEach(async () => {
  client.destroy();
  await loop.close();
});

const HANDLER = 'work';

/** A Lambda context whose deadline is `ms` from now. */
function contextWith(ms: number): Context {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() } as unknown as Context;
}

/** Schedules `n` jobs due now, runs one tick pass publishing to the loopback with batching on. */
async function tickToLoopback(
  n: number,
  options: { maxTasks?: number; maxBytes?: number; shards?: number; payload?: (i: number) => unknown } = {},
): Promise<{ engine: Engine; events: unknown[] }> {
  const engine = new Engine(redis, { namespace: randomNamespace('batch'), shards: options.shards ?? 1 });
  const scheduler = new Scheduler({ redis, namespace: engine.namespace, shards: engine.shards });
  const at = Date.now();
  await scheduler.scheduleMany(
    Array.from({ length: n }, (_, i) => ({
      handler: HANDLER,
      payload: (options.payload?.(i) ?? { i }) as never,
      at,
      backoff: { type: 'fixed' as const, delayMs: 60_000 },
    })),
  );
  const publisher = new EventBridgePublisher({
    client,
    eventBusName: 'tickset-bus',
    sleep: noSleep,
    batch: {
      [HANDLER]: {
        ...(options.maxTasks !== undefined ? { maxTasks: options.maxTasks } : {}),
        ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      },
    },
  });
  const tick = new TickLoop({ engine, publisher, leaseMs: 60_000, logger: silentLogger });
  await tick.pass();
  const events = loop.received.map((entry) => ({
    version: '0',
    id: 'evt',
    'detail-type': entry.DetailType,
    source: entry.Source,
    time: new Date().toISOString(),
    detail: JSON.parse(entry.Detail ?? 'null'),
  }));
  return { engine, events };
}

async function inflight(engine: Engine): Promise<number> {
  return redis.zcard(engine.keys(0).inflight(HANDLER));
}
async function delayed(engine: Engine): Promise<number> {
  return redis.zcard(engine.keys(0).delayed(HANDLER));
}

function outcomesOf(outcome: TaskOutcome<unknown>): readonly TaskOutcome<unknown>[] {
  if (outcome.status !== 'batch') throw new Error(`expected a batch outcome, got ${outcome.status}`);
  return outcome.outcomes;
}

describe('packing', () => {
  it('one entry per handler and shard, within maxTasks and maxBytes; other handlers one entry per task', () => {
    const tasks = makeTasks(40).map((t, i) => (i % 10 === 9 ? { ...t, handler: 'single' } : t));
    const limits = resolveBatchPolicy({ 'send-reminder': { maxTasks: 4, maxBytes: 1024 } });
    const envelope = putEventsEntrySize({ Source: 'tickset', DetailType: 'tickset.task' });
    const { events, failed } = packTasks(tasks, limits, envelope);
    expect(failed).toEqual([]);
    const batches = events.filter((e) => e.batch);
    const singles = events.filter((e) => !e.batch);
    expect(singles.map((e) => e.tasks[0]!.handler)).toEqual(Array(4).fill('single'));
    for (const b of batches) {
      const detail = JSON.parse(b.detail) as TaskBatchDetail;
      expect(b.tasks.length).toBeLessThanOrEqual(4);
      expect(new Set(b.tasks.map((t) => t.shard))).toEqual(new Set([detail.shard]));
      expect(detail.tasks.map((t) => t.id)).toEqual(b.tasks.map((t) => t.id));
      expect(
        putEventsEntrySize({ Source: 'tickset', DetailType: 'tickset.task', Detail: b.detail }),
      ).toBeLessThanOrEqual(1024);
    }
    expect(batches.flatMap((b) => b.tasks.map((t) => t.id)).sort()).toEqual(
      tasks.filter((t) => t.handler !== 'single').map((t) => t.id),
    );
  });

  it('maxBytes splits a claim into several entries, each at most maxBytes as EventBridge counts it', () => {
    const tasks = makeTasks(50, 0).map((t) => ({ ...t, shard: 0, payload: { pad: 'x'.repeat(300) } }));
    const limits = resolveBatchPolicy({ 'send-reminder': { maxBytes: 2048 } });
    const envelope = putEventsEntrySize({ Source: 'tickset', DetailType: 'tickset.task' });
    const { events } = packTasks(tasks, limits, envelope);
    expect(events.length).toBeGreaterThan(1);
    for (const e of events) {
      const size = putEventsEntrySize({ Source: 'tickset', DetailType: 'tickset.task', Detail: e.detail });
      expect(size).toBeLessThanOrEqual(2048);
    }
    expect(events.flatMap((e) => e.tasks.map((t) => t.id))).toEqual(tasks.map((t) => t.id));
  });
});

describe('batched delivery through the loopback PutEvents endpoint', () => {
  it('a claim of 250 tasks goes out as 3 entries (maxTasks 100, default 64 KB); every task acked once', async () => {
    const { engine, events } = await tickToLoopback(250);
    expect(loop.received).toHaveLength(3);
    for (const entry of loop.received) {
      const size = putEventsEntrySize({
        Source: entry.Source,
        DetailType: entry.DetailType,
        Detail: entry.Detail,
      });
      expect(size).toBeLessThanOrEqual(64 * 1024);
    }
    const ran: string[] = [];
    const handle = taskHandler(async (task: Task) => void ran.push(task.id), {
      engine,
      logger: silentLogger,
      metrics: new InMemoryMetrics(),
    });
    const outcomes = (await Promise.all(events.map((e) => handle(e, contextWith(60_000))))).flatMap(
      outcomesOf,
    );
    expect(outcomes.every((o) => o.status === 'succeeded')).toBe(true);
    expect(ran).toHaveLength(250);
    expect(new Set(ran).size).toBe(250);
    expect(await inflight(engine)).toBe(0);
    expect(await redis.hlen(engine.keys(0).jobs)).toBe(0);
  });

  it('a failing task fails alone: its siblings are acked, it is scheduled for a retry', async () => {
    const { engine, events } = await tickToLoopback(10);
    expect(events).toHaveLength(1);
    const handle = taskHandler(
      async (task: Task<{ i: number }>) => {
        if (task.payload.i === 3) throw new Error('boom');
        return task.payload.i;
      },
      { engine, logger: silentLogger, metrics: new InMemoryMetrics() },
    );
    const outcomes = outcomesOf(await handle(events[0], contextWith(60_000)));
    expect(outcomes.filter((o) => o.status === 'succeeded')).toHaveLength(9);
    expect(outcomes.filter((o) => o.status === 'retrying')).toHaveLength(1);
    expect(await inflight(engine)).toBe(0);
    expect(await delayed(engine)).toBe(1);
  });

  it('a timeout mid-batch fails that task alone (reason timeout); the rest succeed', async () => {
    const { engine, events } = await tickToLoopback(6);
    let release!: () => void;
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handle = taskHandler(
      async (task: Task<{ i: number }>) => {
        if (task.payload.i === 2) await hung;
      },
      { engine, logger: silentLogger, metrics: new InMemoryMetrics(), timeoutMs: 50 },
    );
    const outcomes = outcomesOf(await handle(events[0], contextWith(60_000)));
    release();
    expect(outcomes.map((o) => o.status).sort()).toEqual([
      'retrying',
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    const state = await redis.hgetall(engine.keys(0).state);
    expect(Object.values(state).filter((s) => s.includes('timeout'))).toHaveLength(1);
  });

  it('tasks that cannot start before the deadline are released (attempt not counted), not lost', async () => {
    const { engine, events } = await tickToLoopback(8);
    let release!: () => void;
    const first = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started: number[] = [];
    const metrics = new InMemoryMetrics();
    // Concurrency 2: the first round (2 tasks) starts; the others wait for a slot, and by then the
    // invocation's time is gone (the deadline is 0 ms after the margin).
    const handle = taskHandler(
      async (task: Task<{ i: number }>) => {
        started.push(task.payload.i);
        await first;
      },
      { engine, logger: silentLogger, metrics, batch: { concurrency: 2, marginMs: 0 } },
    );
    const context = { getRemainingTimeInMillis: () => 0 } as unknown as Context;
    const running = handle(events[0], context);
    release();
    const outcomes = outcomesOf(await running);
    // With no time left, even the first round does not start.
    expect(started).toEqual([]);
    expect(outcomes.every((o) => o.status === 'released')).toBe(true);
    expect(await inflight(engine)).toBe(0);
    expect(await delayed(engine)).toBe(8);
    // Attempt not counted, records gone: the next delivery runs them as first attempts.
    const { events: again } = await (async () => {
      const before = loop.received.length;
      const tick = new TickLoop({
        engine,
        publisher: new EventBridgePublisher({
          client,
          eventBusName: 'tickset-bus',
          sleep: noSleep,
          batch: { [HANDLER]: {} },
        }),
        leaseMs: 60_000,
        logger: silentLogger,
        now: () => Date.now() + 5_000,
      });
      await tick.pass();
      return { events: loop.received.slice(before).map((e) => ({ detail: JSON.parse(e.Detail!) })) };
    })();
    const redelivered = (again[0] as { detail: TaskBatchDetail }).detail.tasks;
    expect(redelivered).toHaveLength(8);
    expect(redelivered.every((t) => t.attempt === 1)).toBe(true);
    const ok = taskHandler(async () => undefined, { engine, logger: silentLogger, metrics });
    const outcomes2 = outcomesOf(await ok(again[0], contextWith(60_000)));
    expect(outcomes2.every((o) => o.status === 'succeeded')).toBe(true);
  });

  it('some tasks start and finish, the rest are released when the time runs out', async () => {
    const { engine, events } = await tickToLoopback(6);
    let remaining = 10_000;
    const context = { getRemainingTimeInMillis: () => remaining } as unknown as Context;
    const ran: number[] = [];
    const handle = taskHandler(
      async (task: Task<{ i: number }>) => {
        ran.push(task.payload.i);
        // The first task to run uses up the invocation's time.
        remaining = 0;
      },
      {
        engine,
        logger: silentLogger,
        metrics: new InMemoryMetrics(),
        batch: { concurrency: 1, marginMs: 0 },
      },
    );
    const outcomes = outcomesOf(await handle(events[0], context));
    expect(ran).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'succeeded')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'released')).toHaveLength(5);
    expect(await inflight(engine)).toBe(0);
    expect(await delayed(engine)).toBe(5);
  });

  it('duplicate delivery of a whole batch: no task runs twice, the stored results come back', async () => {
    const { engine, events } = await tickToLoopback(20);
    let runs = 0;
    const handle = taskHandler(
      async (task: Task<{ i: number }>) => {
        runs++;
        return task.payload.i * 2;
      },
      { engine, logger: silentLogger, metrics: new InMemoryMetrics() },
    );
    const first = outcomesOf(await handle(events[0], contextWith(60_000)));
    const second = outcomesOf(await handle(events[0], contextWith(60_000)));
    expect(runs).toBe(20);
    expect(first.every((o) => o.status === 'succeeded')).toBe(true);
    expect(second.every((o) => o.status === 'duplicate')).toBe(true);
    expect(second.map((o) => (o as { result: number }).result)).toEqual(
      first.map((o) => (o as { result: number }).result),
    );
  });

  it('concurrent duplicate deliveries of a batch run each task once', async () => {
    const { engine, events } = await tickToLoopback(20);
    let runs = 0;
    const handle = taskHandler(
      async () => {
        runs++;
      },
      { engine, logger: silentLogger, metrics: new InMemoryMetrics() },
    );
    const [a, b] = await Promise.all([
      handle(events[0], contextWith(60_000)),
      handle(events[0], contextWith(60_000)),
    ]);
    expect(runs).toBe(20);
    const statuses = [...outcomesOf(a), ...outcomesOf(b)].map((o) => o.status);
    expect(statuses.filter((s) => s === 'succeeded')).toHaveLength(20);
    expect(await inflight(engine)).toBe(0);
  });

  it('an entry EventBridge rejects releases every task in it; none is lost', async () => {
    plan = (i) => (i === 0 ? { failIndexes: [0], code: 'InternalFailure' } : 'ok');
    const engine = new Engine(redis, { namespace: randomNamespace('batch') });
    const scheduler = new Scheduler({ redis, namespace: engine.namespace });
    const at = Date.now();
    await scheduler.scheduleMany(
      Array.from({ length: 30 }, (_, i) => ({ handler: HANDLER, payload: { i }, at })),
    );
    const publisher = new EventBridgePublisher({
      client,
      eventBusName: 'tickset-bus',
      sleep: noSleep,
      maxAttempts: 1,
      batch: { [HANDLER]: { maxTasks: 10 } },
    });
    const tick = new TickLoop({ engine, publisher, leaseMs: 60_000, logger: silentLogger });
    const stats = await tick.pass();
    expect(stats.publishFailed).toBe(10);
    expect(stats.published).toBe(20);
    expect(await inflight(engine)).toBe(20);
    expect(await delayed(engine)).toBe(10);
  });

  it('one shard per entry: 3 shards give at least 3 entries, each of one shard', async () => {
    const { engine, events } = await tickToLoopback(60, { shards: 3 });
    const shards = events.map((e) => (e as { detail: TaskBatchDetail }).detail.shard);
    expect(new Set(shards)).toEqual(new Set([0, 1, 2]));
    const handle = taskHandler(async () => undefined, {
      engine,
      logger: silentLogger,
      metrics: new InMemoryMetrics(),
    });
    const outcomes = (await Promise.all(events.map((e) => handle(e, contextWith(60_000))))).flatMap(
      outcomesOf,
    );
    expect(outcomes).toHaveLength(60);
    expect(outcomes.every((o) => o.status === 'succeeded')).toBe(true);
  });

  it('an old wrapper meeting a batch fails loudly: its event parser rejects detail.v', async () => {
    const { events } = await tickToLoopback(3);
    // parseTaskEvent is the single-task parser every wrapper before batched delivery ran on each event.
    let error: unknown;
    try {
      parseTaskEvent(events[0]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MalformedEventError);
    expect((error as MalformedEventError).field).toBe('detail.v');
  });

  it('a batch event for another namespace throws and acks nothing', async () => {
    const { engine, events } = await tickToLoopback(3);
    const other = new Engine(redis, { namespace: randomNamespace('other') });
    const handle = taskHandler(async () => undefined, {
      engine: other,
      logger: silentLogger,
      metrics: new InMemoryMetrics(),
    });
    await expect(handle(events[0], contextWith(60_000))).rejects.toBeInstanceOf(MalformedEventError);
    expect(await inflight(engine)).toBe(3);
  });

  it('one begin and at most a few complete script calls for a batch of 100', async () => {
    const { engine, events } = await tickToLoopback(100);
    const monitor = await redis.duplicate().monitor();
    const scripts: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0] === 'evalsha' || args[0] === 'eval') scripts.push(args.slice(0, 5).join(' '));
    });
    const handle = taskHandler(async () => undefined, {
      engine,
      logger: silentLogger,
      metrics: new InMemoryMetrics(),
      legacyRecords: false,
      batch: { concurrency: 100 },
    });
    const outcomes = outcomesOf(await handle(events[0], contextWith(60_000)));
    await redis.ping();
    monitor.disconnect();
    expect(outcomes.every((o) => o.status === 'succeeded')).toBe(true);
    // One "in progress" call and one "completed + ack" call: the scripts of the whole batch.
    expect(scripts, scripts.join('\n')).toHaveLength(2);
  });
});

describe('batch events carry a version', () => {
  it('TaskEventDetail stays v 1', () => {
    const t: TaskEventDetail = makeTasks(1)[0]!;
    expect(t.v).toBe(1);
  });
});
