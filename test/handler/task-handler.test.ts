/**
 * The handler wrapper against a real Redis: duplicate deliveries (concurrent and after success), stale
 * claims, timeouts and their late acks, malformed events (specific error, Redis unchanged) and what the
 * logs may contain.
 */
import { Console } from 'node:console';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { type AckOutcome, Engine, type FailOutcome, type TaskRef } from '../../src/core/engine.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { MalformedEventError } from '../../src/errors.js';
import { ioredisCacheClient } from '../../src/handler/idempotency.js';
import { type Task, taskHandler } from '../../src/handler/task-handler.js';
import type { TicksetLogger } from '../../src/observability/logger.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { eventually, newClient, randomNamespace, snapshotNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

interface LogCall {
  level: string;
  message: string;
  attributes: unknown;
}

function recordingLogger(): { logger: TicksetLogger; calls: LogCall[] } {
  const calls: LogCall[] = [];
  const at =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) => {
      calls.push({ level, message: String(message), attributes: rest });
    };
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger: logger as unknown as TicksetLogger, calls };
}

/** A namespace with one claimed task of `handler`, ready to be delivered. */
async function claimedTask(
  options: { handler?: string; payload?: Record<string, string>; maxAttempts?: number; engine?: Engine } = {},
): Promise<{ scheduler: Scheduler; engine: Engine; task: TaskEventDetail; event: unknown }> {
  const engine = options.engine ?? new Engine(redis, { namespace: randomNamespace() });
  // Real time: the wrapper stamps failures with Date.now().
  const now = Date.now();
  const scheduler = new Scheduler({ redis, namespace: engine.namespace });
  const handler = options.handler ?? 'work';
  await scheduler.schedule({
    handler,
    payload: options.payload ?? { n: '1' },
    at: now,
    backoff: { type: 'fixed', delayMs: 60_000 },
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
  // Claim on a clock read after scheduling: the job is due at the producer's clock, at or after `now`.
  const { tasks } = await promoteClaim(engine, [spec(handler, 10, { leaseMs: 60_000 })], Date.now());
  expect(tasks).toHaveLength(1);
  const task = tasks[0]!;
  return { scheduler, engine, task, event: eventOf(task) };
}

function eventOf(detail: unknown): unknown {
  return {
    version: '0',
    id: 'evt-1',
    'detail-type': 'tickset.task',
    source: 'tickset',
    time: new Date().toISOString(),
    detail: detail,
  };
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('duplicate deliveries', () => {
  it('a concurrent duplicate gets "in-progress" and the function runs once', async () => {
    const { engine, event, scheduler, task } = await claimedTask();
    const started = gate();
    const release = gate();
    const runs: Task[] = [];
    const handle = taskHandler(
      async (t) => {
        runs.push(t);
        started.open();
        await release.promise;
        return { sent: t.id };
      },
      { engine, logger: recordingLogger().logger, metrics: new InMemoryMetrics() },
    );

    const first = handle(event);
    await started.promise;
    const second = await handle(event);
    expect(second).toEqual({ status: 'in-progress' });
    expect((await scheduler.get(task.id))?.state).toBe('inflight');

    release.open();
    expect(await first).toEqual({ status: 'succeeded', result: { sent: task.id } });
    expect(runs).toHaveLength(1);
    expect(await scheduler.get(task.id)).toBeUndefined();
  });

  it('a duplicate after success gets "duplicate" with the stored result and the function does not run', async () => {
    const { engine, event, scheduler, task } = await claimedTask();
    let runs = 0;
    const metrics = new InMemoryMetrics();
    const handle = taskHandler(
      async (t) => {
        runs++;
        return { sent: t.idempotencyKey };
      },
      { engine, logger: recordingLogger().logger, metrics },
    );

    expect(await handle(event)).toEqual({ status: 'succeeded', result: { sent: task.idempotencyKey } });
    expect(await scheduler.get(task.id)).toBeUndefined();
    expect(await handle(event)).toEqual({ status: 'duplicate', result: { sent: task.idempotencyKey } });
    expect(await handle(structuredClone(event))).toEqual({
      status: 'duplicate',
      result: { sent: task.idempotencyKey },
    });
    expect(runs).toBe(1);
    // The record key is Powertools' `<prefix>#md5(JSON.stringify(idempotencyKey))`, with the prefix of the
    // task's shard (its hash tag), and the record is Powertools' own: its cache layer reads it back.
    const hash = createHash('md5').update(JSON.stringify(task.idempotencyKey)).digest('base64');
    expect(await redis.exists(`{${engine.namespace}:0}:idem#${hash}`)).toBe(1);
    const powertools = new CachePersistenceLayer({ client: ioredisCacheClient(redis) });
    powertools.configure({
      config: new IdempotencyConfig({ eventKeyJmesPath: 'idempotencyKey' }),
      keyPrefix: `{${engine.namespace}:0}:idem`,
    });
    const stored = await powertools.getRecord({ idempotencyKey: task.idempotencyKey });
    expect(stored.getStatus()).toBe('COMPLETED');
    expect(stored.getResponse()).toEqual({ sent: task.idempotencyKey });
    expect(metrics.get('TasksSucceeded')).toBe(1);
    expect(metrics.get('LateAckRejected')).toBe(0);
  });
});

describe('stale claims: start fencing', () => {
  it('a delivery whose lease expired and was claimed again is rejected at start (superseded); the newer claim runs', async () => {
    const { engine, event, scheduler, task: old } = await claimedTask();
    // The lease expires and the job is claimed again (same occurrence, same idempotency key).
    const later = old.leaseUntil;
    expect(await engine.requeueExpired(0, ['work'], later, 100)).toEqual({ requeued: 1, dead: 0 });
    const { tasks } = await promoteClaim(engine, [spec('work', 10, { leaseMs: 60_000 })], later);
    const fresh = tasks[0]!;
    expect(fresh.attempt).toBe(2);
    expect(fresh.idempotencyKey).toBe(old.idempotencyKey);

    let runs = 0;
    const metrics = new InMemoryMetrics();
    const { logger, calls } = recordingLogger();
    const handle = taskHandler(
      async () => {
        runs++;
        return 'done';
      },
      { engine, logger, metrics },
    );
    expect(await handle(event)).toEqual({ status: 'stale', reason: 'superseded' });
    expect(runs).toBe(0);
    expect(metrics.get('StaleStartRejected')).toBe(1);
    expect(calls.some((c) => c.level === 'warn' && JSON.stringify(c.attributes).includes('superseded'))).toBe(
      true,
    );
    const job = await scheduler.get(old.id);
    expect(job?.state).toBe('inflight');
    expect(job?.attempt).toBe(2);

    // The newer claim runs (the stale start wrote no record).
    expect(await handle(eventOf(fresh))).toEqual({ status: 'succeeded', result: 'done' });
    expect(runs).toBe(1);
    expect(await scheduler.get(old.id)).toBeUndefined();
  });

  it('a second delivery of an event whose attempt already failed does not run again', async () => {
    const { event, scheduler, task, engine } = await claimedTask();
    let runs = 0;
    const handle = taskHandler(
      async () => {
        runs++;
        throw new Error('boom');
      },
      { engine, logger: recordingLogger().logger, metrics: new InMemoryMetrics() },
    );
    expect(await handle(event)).toMatchObject({ status: 'retrying', attempt: 1 });
    expect(await handle(structuredClone(event))).toEqual({ status: 'stale', reason: 'superseded' });
    expect(runs).toBe(1);
    expect(await scheduler.get(task.id)).toMatchObject({ state: 'scheduled', attempt: 1 });
  });

  it('a forged event starts nothing: a made-up token of a live task, and an id that does not exist', async () => {
    const { engine, scheduler, task } = await claimedTask();
    let runs = 0;
    const metrics = new InMemoryMetrics();
    const handle = taskHandler(
      async () => {
        runs++;
      },
      { engine, logger: recordingLogger().logger, metrics },
    );
    const before = await snapshotNamespace(redis, engine.namespace);
    expect(await handle(eventOf({ ...task, claimToken: 'forged' }))).toEqual({
      status: 'stale',
      reason: 'unknown',
    });
    expect(await handle(eventOf({ ...task, claimToken: `${task.leaseUntil}.made-up.${task.id}x` }))).toEqual({
      status: 'stale',
      reason: 'unknown',
    });
    // A well-formed token that is not the live claim's (a first claim is fenced by its id and exact lease
    // deadline, ARCHITECTURE.md "Claim tokens").
    expect(
      await handle(eventOf({ ...task, claimToken: `${task.leaseUntil - 1}.made-up.${task.id}` })),
    ).toEqual({
      status: 'stale',
      reason: 'superseded',
    });
    const ghost = 'AAAAAAAAAAAAAA';
    expect(
      await handle(eventOf({ ...task, id: ghost, claimToken: `${task.leaseUntil}.made-up.${ghost}` })),
    ).toEqual({ status: 'stale', reason: 'cancelled' });
    expect(runs).toBe(0);
    expect(metrics.get('StaleStartRejected')).toBe(4);
    // Nothing written: no record, the claim untouched.
    expect(await snapshotNamespace(redis, engine.namespace)).toEqual(before);
    expect(await scheduler.get(task.id)).toMatchObject({ state: 'inflight', attempt: 1 });
  });

  it('a task cancelled after its claim never starts (cancelled)', async () => {
    const { engine, event, scheduler, task } = await claimedTask();
    let runs = 0;
    const handle = taskHandler(
      async () => {
        runs++;
      },
      { engine, logger: recordingLogger().logger, metrics: new InMemoryMetrics() },
    );
    expect(await scheduler.cancel(task.id)).toBe(true);
    expect(await handle(event)).toEqual({ status: 'stale', reason: 'cancelled' });
    expect(runs).toBe(0);
  });
});

describe('timeouts', () => {
  it('a handler past timeoutMs fails with reason "timeout" and its late completion cannot ack', async () => {
    const { engine, event, scheduler, task } = await claimedTask();
    const release = gate();
    const metrics = new InMemoryMetrics();
    let finished = false;
    const handle = taskHandler(
      async () => {
        await release.promise;
        finished = true;
        return 'late';
      },
      { engine, timeoutMs: 100, logger: recordingLogger().logger, metrics },
    );
    const outcome = await handle(event);
    expect(outcome).toMatchObject({ status: 'retrying', attempt: 1 });
    const job = await scheduler.get(task.id);
    expect(job).toMatchObject({ state: 'scheduled', lastReason: 'timeout' });
    expect(job?.lastError).toContain('100 ms');

    release.open();
    await eventually(() => finished && metrics.get('LateAckRejected') === 1);
    expect(await scheduler.get(task.id)).toMatchObject({ state: 'scheduled', lastReason: 'timeout' });
  });

  it('a handler that finishes while its timeout is being recorded still counts as failed', async () => {
    // The function resolves after the timeout fired but before the failure reaches Redis: its late ack
    // must come after the failure, so it is rejected, and the attempt counts as failed.
    const release = gate();
    const acks: AckOutcome[] = [];
    class RacingEngine extends Engine {
      override async fail(
        ref: TaskRef,
        error: { readonly reason?: string; readonly message: string },
        now: number,
        options?: { readonly retry?: boolean },
      ): Promise<FailOutcome> {
        release.open();
        // Let the completed function's continuation run, then flush this connection: an ack sent in
        // that window would reach Redis before the failure below.
        await new Promise((resolve) => setImmediate(resolve));
        await this.redis.ping();
        return super.fail(ref, error, now, options);
      }
      override async ack(ref: TaskRef): Promise<AckOutcome> {
        const outcome = await super.ack(ref);
        acks.push(outcome);
        return outcome;
      }
    }
    const engine = new RacingEngine(redis, { namespace: randomNamespace() });
    const { event, scheduler, task } = await claimedTask({ engine });
    const metrics = new InMemoryMetrics();
    const handle = taskHandler(
      async () => {
        await release.promise;
        return 'late';
      },
      { engine, timeoutMs: 50, logger: recordingLogger().logger, metrics },
    );
    expect(await handle(event)).toMatchObject({ status: 'retrying', attempt: 1 });
    await eventually(() => acks.length === 1);
    expect(acks).toEqual(['stale']);
    expect(metrics.get('LateAckRejected')).toBe(1);
    expect(await scheduler.get(task.id)).toMatchObject({ state: 'scheduled', lastReason: 'timeout' });
  });
});

describe('the handler name', () => {
  it('an event for another handler is dead-lettered with reason "unknown-handler"', async () => {
    const { engine, event, scheduler, task } = await claimedTask({ handler: 'other' });
    let runs = 0;
    const handle = taskHandler(
      () => {
        runs++;
      },
      { engine, handler: 'work', logger: recordingLogger().logger, metrics: new InMemoryMetrics() },
    );
    expect(await handle(event)).toEqual({ status: 'dead', attempt: 1, reason: 'unknown-handler' });
    expect(runs).toBe(0);
    expect(await scheduler.get(task.id)).toMatchObject({ state: 'dead', lastReason: 'unknown-handler' });
  });
});

describe('malformed events', () => {
  const cases: Array<{ name: string; field: string; make: (detail: TaskEventDetail) => unknown }> = [
    { name: 'not an object', field: 'event', make: () => 'hello' },
    { name: 'null', field: 'event', make: () => null },
    { name: 'detail null', field: 'detail', make: () => ({ source: 'tickset', detail: null }) },
    { name: 'detail a string', field: 'detail', make: (d) => ({ detail: JSON.stringify(d) }) },
    {
      name: 'an EventBridge event without detail',
      field: 'detail',
      make: () => ({ version: '0', source: 'tickset', 'detail-type': 'tickset.task' }),
    },
    {
      name: 'detail without claimToken',
      field: 'detail.claimToken',
      make: (d) => eventOf(omit(d, 'claimToken')),
    },
    { name: 'detail without id', field: 'detail.id', make: (d) => eventOf(omit(d, 'id')) },
    { name: 'attempt as a string', field: 'detail.attempt', make: (d) => eventOf({ ...d, attempt: '1' }) },
    { name: 'attempt 0', field: 'detail.attempt', make: (d) => eventOf({ ...d, attempt: 0 }) },
    { name: 'shard negative', field: 'detail.shard', make: (d) => eventOf({ ...d, shard: -1 }) },
    {
      name: 'scheduledFor not a date',
      field: 'detail.scheduledFor',
      make: (d) => eventOf({ ...d, scheduledFor: 'yesterday' }),
    },
    { name: 'unknown version', field: 'detail.v', make: (d) => eventOf({ ...d, v: 3 }) },
    {
      name: 'a batch event (v 2) without its tasks',
      field: 'detail.tasks',
      make: (d) => eventOf({ ...d, v: 2 }),
    },
    { name: 'empty handler', field: 'detail.handler', make: (d) => eventOf({ ...d, handler: '' }) },
    {
      name: 'a bare detail with a wrong type',
      field: 'detail.leaseUntil',
      make: (d) => ({ ...d, leaseUntil: 'soon' }),
    },
    {
      name: 'another namespace',
      field: 'detail.namespace',
      make: (d) => eventOf({ ...d, namespace: 'elsewhere' }),
    },
  ];

  it.each(cases)('$name → MalformedEventError naming $field; nothing acked', async ({ field, make }) => {
    const { engine, scheduler, task } = await claimedTask({ payload: { secret: 'hunter2' } });
    const before = await snapshotNamespace(redis, engine.namespace);
    const { logger, calls } = recordingLogger();
    let runs = 0;
    const handle = taskHandler(
      () => {
        runs++;
      },
      { engine, logger, metrics: new InMemoryMetrics() },
    );
    const error = await handle(make(task)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MalformedEventError);
    expect((error as MalformedEventError).field).toBe(field);
    expect((error as MalformedEventError).message).toContain(field);
    expect(runs).toBe(0);
    expect(await snapshotNamespace(redis, engine.namespace)).toEqual(before);
    expect(await redis.keys(`tickset-idem:${engine.namespace}*`)).toEqual([]);
    expect(await redis.keys(`{${engine.namespace}:*}:idem#*`)).toEqual([]);
    expect((await scheduler.get(task.id))?.state).toBe('inflight');
    expect(calls.some((c) => c.level === 'error')).toBe(true);
    expect(JSON.stringify(calls)).not.toContain('hunter2');
  });

  it('a valid event for another namespace on the same Redis acks nothing in either namespace', async () => {
    const mine = await claimedTask();
    const theirs = await claimedTask();
    const beforeMine = await snapshotNamespace(redis, mine.engine.namespace);
    const beforeTheirs = await snapshotNamespace(redis, theirs.engine.namespace);
    const handle = taskHandler(() => 'ran', {
      engine: mine.engine,
      logger: recordingLogger().logger,
      metrics: new InMemoryMetrics(),
    });
    await expect(handle(theirs.event)).rejects.toMatchObject({ field: 'detail.namespace' });
    expect(await snapshotNamespace(redis, mine.engine.namespace)).toEqual(beforeMine);
    expect(await snapshotNamespace(redis, theirs.engine.namespace)).toEqual(beforeTheirs);
  });
});

describe('logs', () => {
  it('contain no payload by default', async () => {
    const previous = process.env.TICKSET_LOG_PAYLOADS;
    delete process.env.TICKSET_LOG_PAYLOADS;
    try {
      const { engine, event } = await claimedTask({ payload: { card: '4111-1111-1111-1111' } });
      const { logger, calls } = recordingLogger();
      const handle = taskHandler(() => 'ok', { engine, logger, metrics: new InMemoryMetrics() });
      expect(await handle(event)).toMatchObject({ status: 'succeeded' });
      expect(calls.length).toBeGreaterThan(0);
      expect(JSON.stringify(calls)).not.toContain('4111-1111-1111-1111');

      // A failure's log line does not carry it either.
      const failing = await claimedTask({ payload: { card: '4111-1111-1111-1111' } });
      const failLog = recordingLogger();
      const failHandle = taskHandler(
        () => {
          throw new Error('card declined');
        },
        { engine: failing.engine, logger: failLog.logger, metrics: new InMemoryMetrics() },
      );
      expect(await failHandle(failing.event)).toMatchObject({ status: 'retrying' });
      expect(JSON.stringify(failLog.calls)).toContain('card declined');
      expect(JSON.stringify(failLog.calls)).not.toContain('4111-1111-1111-1111');
    } finally {
      if (previous !== undefined) process.env.TICKSET_LOG_PAYLOADS = previous;
    }
  });

  it('contain the payload with logPayloads: true', async () => {
    const { engine, event, task } = await claimedTask({ payload: { card: '4111-1111-1111-1111' } });
    const { logger, calls } = recordingLogger();
    const handle = taskHandler(() => 'ok', {
      engine,
      logger,
      logPayloads: true,
      metrics: new InMemoryMetrics(),
    });
    expect(await handle(event)).toMatchObject({ status: 'succeeded' });
    const started = calls.find((c) => c.message === 'task started');
    expect(started?.attributes).toEqual([
      {
        id: task.id,
        handler: 'work',
        attempt: 1,
        idempotencyKey: task.idempotencyKey,
        payload: { card: '4111-1111-1111-1111' },
      },
    ]);
  });

  it('a Powertools Logger with a custom destination shows the same: no payload by default', async () => {
    const lines: string[] = [];
    const logger = new Logger({ serviceName: 'tickset-handler-test', logLevel: 'DEBUG' });
    // The log destination: Powertools writes each record through its `console` property.
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    (logger as unknown as { console: Console }).console = new Console({ stdout: sink, stderr: sink });
    const { engine, event, task } = await claimedTask({ payload: { card: '4111-1111-1111-1111' } });
    const handle = taskHandler(() => 'ok', { engine, logger, metrics: new InMemoryMetrics() });
    expect(await handle(event)).toMatchObject({ status: 'succeeded' });
    expect(lines.some((l) => l.includes(task.id))).toBe(true);
    expect(lines.join('\n')).not.toContain('4111-1111-1111-1111');
  });
});

function omit<T extends object>(value: T, key: keyof T): Partial<T> {
  const copy = { ...value };
  delete copy[key];
  return copy;
}
