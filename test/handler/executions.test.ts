/**
 * The wrapper's batched steps on a real Redis: "in progress" and "completed + ack" for the tasks of one
 * event-loop turn go out as one script call per shard; each task keeps its own outcome (a stale claim in a
 * batch is rejected alone); a batch the store rejects as a whole leaves every task of it recoverable. And
 * the records stay Powertools' records, byte for byte.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/types';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import {
  type AckOutcome,
  type BeginOutcome,
  Engine,
  type FailOutcome,
  type TaskRef,
} from '../../src/core/engine.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { MalformedEventError } from '../../src/errors.js';
import { markLocalEvent } from '../../src/handler/event.js';
import {
  completedRecord,
  completedRecordHead,
  completedRecordTail,
  inProgressRecord,
  recordExpiry,
  recordKeyOf,
  recordState,
} from '../../src/handler/executions.js';
import { ioredisCacheClient } from '../../src/handler/idempotency.js';
import { type Task, taskHandler } from '../../src/handler/task-handler.js';
import { silentLogger } from '../../src/observability/logger.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

/** An engine that counts its batched calls and can be told to fail them. */
class CountingEngine extends Engine {
  readonly beginBatches: number[] = [];
  readonly completeBatches: number[] = [];
  failBegin = false;
  failComplete = false;
  failFail = false;
  override async beginExecutions(
    shard: number,
    handler: string,
    tasks: Parameters<Engine['beginExecutions']>[2],
    inProgress: string,
    now: number,
    ttlSeconds: number,
  ): Promise<BeginOutcome[]> {
    this.beginBatches.push(tasks.length);
    if (this.failBegin) throw new Error('connection lost (begin)');
    return super.beginExecutions(shard, handler, tasks, inProgress, now, ttlSeconds);
  }
  override async completeExecutions(
    shard: number,
    handler: string,
    tasks: Parameters<Engine['completeExecutions']>[2],
    recordHead: string,
    ttlSeconds: number,
  ): Promise<AckOutcome[]> {
    this.completeBatches.push(tasks.length);
    if (this.failComplete) throw new Error('connection lost (complete)');
    return super.completeExecutions(shard, handler, tasks, recordHead, ttlSeconds);
  }
  override async fail(
    ref: TaskRef,
    error: { readonly reason?: string; readonly message: string },
    now: number,
    options?: { readonly retry?: boolean },
  ): Promise<FailOutcome> {
    if (this.failFail) throw new Error('connection lost (fail)');
    return super.fail(ref, error, now, options);
  }
}

/** `n` claimed tasks of handler `work` in a fresh namespace. */
async function claimed(n: number, engine?: CountingEngine) {
  const e = engine ?? new CountingEngine(redis, { namespace: randomNamespace() });
  const scheduler = new Scheduler({ redis, namespace: e.namespace });
  await scheduler.scheduleMany(
    Array.from({ length: n }, (_, i) => ({
      handler: 'work',
      payload: { i },
      at: Date.now(),
      backoff: { type: 'fixed' as const, delayMs: 60_000 },
    })),
  );
  const { tasks } = await promoteClaim(e, [spec('work', 1000, { leaseMs: 60_000 })], Date.now());
  expect(tasks).toHaveLength(n);
  return { engine: e, scheduler, tasks };
}

function eventOf(detail: TaskEventDetail): unknown {
  return { version: '0', id: 'evt', 'detail-type': 'tickset.task', source: 'tickset', detail };
}

function wrapper(engine: Engine, fn: (task: Task) => unknown = (t) => ({ done: t.id })) {
  const metrics = new InMemoryMetrics();
  return { metrics, handle: taskHandler(fn, { engine, logger: silentLogger, metrics }) };
}

/** A "completed + ack" item for a claimed task of `engine`'s shard 0 (its own token unless given another). */
function completeItemFor(engine: Engine) {
  const prefix = engine.keys(0).idempotencyPrefix;
  return (t: TaskEventDetail, token = t.claimToken) => ({
    id: t.id,
    claimToken: token,
    recordKey: recordKeyOf(prefix, t.idempotencyKey),
    recordTail: completedRecordTail('r'),
  });
}

describe('batching per event-loop turn', () => {
  it('N concurrent deliveries make one "in progress" call and one "completed + ack" call', async () => {
    const { engine, scheduler, tasks } = await claimed(10);
    const { handle, metrics } = wrapper(engine);
    const outcomes = await Promise.all(tasks.map((t) => handle(eventOf(t))));
    expect(outcomes).toEqual(tasks.map((t) => ({ status: 'succeeded', result: { done: t.id } })));
    expect(engine.beginBatches).toEqual([10]);
    expect(engine.completeBatches).toEqual([10]);
    expect(metrics.get('TasksSucceeded')).toBe(10);
    for (const t of tasks) {
      expect(await scheduler.get(t.id)).toBeUndefined();
      const raw = await redis.get(recordKeyOf(engine.keys(0).idempotencyPrefix, t.idempotencyKey));
      expect(JSON.parse(raw!)).toMatchObject({ status: 'COMPLETED', data: { done: t.id } });
    }
  });

  it('a duplicate in the same batch is "in-progress" and the function runs once', async () => {
    const { engine, tasks } = await claimed(1);
    let runs = 0;
    const { handle } = wrapper(engine, () => ++runs);
    const event = eventOf(tasks[0]!);
    const outcomes = await Promise.all([handle(event), handle(structuredClone(event))]);
    expect(outcomes).toEqual([{ status: 'succeeded', result: 1 }, { status: 'in-progress' }]);
    expect(runs).toBe(1);
    expect(engine.beginBatches).toEqual([2]);
  });

  it('a stale claim in a batch is rejected alone at start (its function never runs); the others are acked', async () => {
    const { engine, scheduler, tasks } = await claimed(5);
    const { handle, metrics } = wrapper(engine);
    // A well-formed token of another claim of the same id (a superseded claim), and a token that is no
    // claim token at all.
    const t2 = tasks[2]!;
    const superseded = { ...t2, claimToken: `${t2.leaseUntil + 1}.older.${t2.id}` };
    const forged = { ...tasks[3]!, claimToken: 'an-older-claim' };
    const events = tasks.map((t, i) => eventOf(i === 2 ? superseded : i === 3 ? forged : t));
    const outcomes = await Promise.all(events.map((e) => handle(e)));
    expect(outcomes).toEqual([
      { status: 'succeeded', result: { done: tasks[0]!.id } },
      { status: 'succeeded', result: { done: tasks[1]!.id } },
      { status: 'stale', reason: 'superseded' },
      { status: 'stale', reason: 'unknown' },
      { status: 'succeeded', result: { done: tasks[4]!.id } },
    ]);
    expect(engine.beginBatches).toEqual([5]);
    expect(engine.completeBatches).toEqual([3]);
    expect(metrics.get('StaleStartRejected')).toBe(2);
    expect(metrics.get('LateAckRejected')).toBe(0);
    // The stale deliveries' claims are untouched (still in flight, same attempt) and wrote no record: the
    // real claims' deliveries run.
    for (const i of [2, 3])
      expect(await scheduler.get(tasks[i]!.id)).toMatchObject({ state: 'inflight', attempt: 1 });
    for (const i of [0, 1, 4]) expect(await scheduler.get(tasks[i]!.id)).toBeUndefined();
    expect(await handle(eventOf(t2))).toEqual({ status: 'succeeded', result: { done: t2.id } });
    expect(await scheduler.get(t2.id)).toBeUndefined();
  });

  it('completeExecutions: one code per task, in order (acked, stale, missing)', async () => {
    const { engine, tasks } = await claimed(3);
    const item = completeItemFor(engine);
    const codes = await engine.completeExecutions(
      0,
      'work',
      [item(tasks[0]!), item(tasks[1]!, 'wrong'), { ...item(tasks[2]!), id: 'no-such-job' }, item(tasks[2]!)],
      completedRecordHead(recordExpiry(Date.now(), 60)),
      60,
    );
    expect(codes).toEqual(['acked', 'stale', 'missing', 'acked']);
  });

  it('completeExecutions: the same claim twice in one batch is acked once, as two acks in a row would be', async () => {
    const { engine, tasks } = await claimed(2);
    const item = completeItemFor(engine);
    const [a, b] = [tasks[0]!, tasks[1]!];
    const codes = await engine.completeExecutions(
      0,
      'work',
      [item(a), item(a), item(b, 'wrong'), item(b), item(b, 'wrong')],
      completedRecordHead(recordExpiry(Date.now(), 60)),
      60,
    );
    // a: acked, then gone; b: a stale token changes nothing, the right one acks, then b is gone.
    expect(codes).toEqual(['acked', 'missing', 'stale', 'acked', 'missing']);
    const k = engine.keys(0);
    expect(await redis.exists(k.jobs, k.state, k.inflight('work'))).toBe(0);
  });

  it('completing a keyed, prioritised job removes its key mapping and priority, as ack.lua does', async () => {
    const engine = new CountingEngine(redis, { namespace: randomNamespace() });
    const scheduler = new Scheduler({ redis, namespace: engine.namespace });
    await scheduler.schedule({ handler: 'work', key: 'user-key', priority: 5, at: Date.now() });
    await scheduler.schedule({ handler: 'work', at: Date.now() });
    const { tasks } = await promoteClaim(engine, [spec('work', 10)], Date.now());
    expect(tasks).toHaveLength(2);
    const k = engine.keys(0);
    expect(await redis.hlen(k.keys)).toBe(1);
    expect(await redis.hlen(k.prio)).toBe(1);
    const { handle } = wrapper(engine);
    const outcomes = await Promise.all(tasks.map((t) => handle(eventOf(t))));
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
    expect(engine.completeBatches).toEqual([2]);
    expect(await redis.hlen(k.keys)).toBe(0);
    expect(await redis.hlen(k.prio)).toBe(0);
    expect(await redis.hlen(k.jobs)).toBe(0);
    expect(await redis.hlen(k.state)).toBe(0);
    expect(await scheduler.get('user-key')).toBeUndefined();
  });

  it('a failed "completed + ack" batch leaves every task recoverable: each attempt fails and retries', async () => {
    const { engine, scheduler, tasks } = await claimed(4);
    engine.failComplete = true;
    let runs = 0;
    const { handle } = wrapper(engine, () => ++runs);
    const outcomes = await Promise.all(tasks.map((t) => handle(eventOf(t))));
    expect(outcomes.map((o) => o.status)).toEqual(['retrying', 'retrying', 'retrying', 'retrying']);
    expect(engine.completeBatches).toEqual([4]);
    for (const t of tasks) {
      expect(await scheduler.get(t.id)).toMatchObject({
        state: 'scheduled',
        attempt: 1,
        lastError: 'connection lost (complete)',
      });
    }
  });

  it('when the store is away for the batch and for the failure, every claim is left to its lease and recovers', async () => {
    const { engine, scheduler, tasks } = await claimed(4);
    engine.failComplete = true;
    engine.failFail = true;
    const { handle } = wrapper(engine);
    const settled = await Promise.allSettled(tasks.map((t) => handle(eventOf(t))));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    for (const t of tasks) expect(await scheduler.get(t.id)).toMatchObject({ state: 'inflight', attempt: 1 });

    // The lease expires: every task is handed out again. Each finds the first execution's record still
    // in progress (a redelivery then is skipped); once that record's in-progress expiry has passed (set in
    // the past here, rather than waiting), the redelivery takes it over and completes.
    engine.failComplete = false;
    engine.failFail = false;
    const later = tasks[0]!.leaseUntil;
    expect(await engine.requeueExpired(0, ['work'], later, 100)).toEqual({ requeued: 4, dead: 0 });
    const { tasks: again } = await promoteClaim(engine, [spec('work', 100)], later);
    expect(again.map((t) => t.id).sort()).toEqual(tasks.map((t) => t.id).sort());
    expect(await handle(eventOf(again[0]!))).toEqual({ status: 'in-progress' });
    for (const t of again) {
      const key = recordKeyOf(engine.keys(0).idempotencyPrefix, t.idempotencyKey);
      const record = JSON.parse((await redis.get(key))!) as Record<string, unknown>;
      expect(record.status).toBe('INPROGRESS');
      await redis.set(key, JSON.stringify({ ...record, in_progress_expiration: Date.now() - 1 }), 'EX', 60);
    }
    const outcomes = await Promise.all(again.map((t) => handle(eventOf(t))));
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    for (const t of tasks) expect(await scheduler.get(t.id)).toBeUndefined();
  });

  it('a failed "in progress" batch fails every attempt of it (the function never ran) and they retry', async () => {
    const { engine, scheduler, tasks } = await claimed(3);
    engine.failBegin = true;
    let runs = 0;
    const { handle } = wrapper(engine, () => ++runs);
    const outcomes = await Promise.all(tasks.map((t) => handle(eventOf(t))));
    expect(outcomes.map((o) => o.status)).toEqual(['retrying', 'retrying', 'retrying']);
    expect(runs).toBe(0);
    for (const t of tasks) {
      expect(await scheduler.get(t.id)).toMatchObject({
        state: 'scheduled',
        lastError: 'connection lost (begin)',
      });
    }
  });
});

describe('locally built events', () => {
  it('an event marked by the local publisher is trusted; the same event after JSON is validated', async () => {
    const { engine, tasks } = await claimed(1);
    const { handle } = wrapper(engine);
    const broken = { ...tasks[0]!, scheduledFor: 'not a date' } as TaskEventDetail;
    const marked = markLocalEvent({ detail: broken });
    // Through JSON (EventBridge), the mark is gone and validation applies.
    await expect(handle(JSON.parse(JSON.stringify(marked)))).rejects.toBeInstanceOf(MalformedEventError);
    await expect(handle(structuredClone(marked))).rejects.toBeInstanceOf(MalformedEventError);
  });
});

describe('records', () => {
  /** What Powertools' cache layer writes, captured from its client calls. */
  function capture(): { client: CacheClient; writes: Array<{ key: string; value: string }> } {
    const writes: Array<{ key: string; value: string }> = [];
    const client: CacheClient = {
      get: async () => null,
      set: async (key, value) => {
        writes.push({ key: String(key), value: String(value) });
        return 'OK';
      },
      del: async () => 1,
    };
    return { client, writes };
  }

  it.each([
    ['an object', { sent: 42, to: ['a', 'b'] }],
    ['a string', 'done'],
    ['null', null],
    ['undefined', undefined],
    ['a number', 7],
  ])('are byte for byte what Powertools writes (result: %s)', async (_name, result) => {
    const { client, writes } = capture();
    const layer = new CachePersistenceLayer({ client });
    layer.configure({
      config: new IdempotencyConfig({ eventKeyJmesPath: 'idempotencyKey', expiresAfterSeconds: 3600 }),
      keyPrefix: '{ns:3}:idem',
    });
    const key = 'job-1@1765000000000:1765000000000:7';
    await layer.saveInProgress({ idempotencyKey: key }, 5000);
    await layer.saveSuccess({ idempotencyKey: key }, result);
    expect(writes).toHaveLength(2);
    const inProgress = JSON.parse(writes[0]!.value) as { expiration: number; in_progress_expiration: number };
    const completed = JSON.parse(writes[1]!.value) as { expiration: number };
    expect(writes[0]!.key).toBe(recordKeyOf('{ns:3}:idem', key));
    expect(writes[1]!.key).toBe(recordKeyOf('{ns:3}:idem', key));
    expect(inProgressRecord(inProgress.expiration, inProgress.in_progress_expiration)).toBe(writes[0]!.value);
    expect(completedRecord(completed.expiration, result)).toBe(writes[1]!.value);
  });

  it.each([
    ['an object', { sent: 42, to: ['a', 'b'] }],
    ['a string', 'done'],
    ['undefined', undefined],
  ])(
    'complete.lua writes the batch head and the task tail as one record, the same bytes (result: %s)',
    async (_name, result) => {
      const { engine, tasks } = await claimed(1);
      const task = tasks[0]!;
      const recordKey = recordKeyOf(engine.keys(0).idempotencyPrefix, task.idempotencyKey);
      const expiry = recordExpiry(Date.now(), 60);
      const codes = await engine.completeExecutions(
        0,
        'work',
        [{ id: task.id, claimToken: task.claimToken, recordKey, recordTail: completedRecordTail(result) }],
        completedRecordHead(expiry),
        60,
      );
      expect(codes).toEqual(['acked']);
      expect(await redis.get(recordKey)).toBe(completedRecord(expiry, result));
    },
  );

  it('begin writes the one "in progress" record of its batch under every key', async () => {
    const { engine, tasks } = await claimed(3);
    const keys = tasks.map((t) => recordKeyOf(engine.keys(0).idempotencyPrefix, t.idempotencyKey));
    const now = Date.now();
    const inProgress = inProgressRecord(recordExpiry(now, 60), now + 5000);
    const outcomes = await engine.beginExecutions(
      0,
      'work',
      tasks.map((t, i) => ({ id: t.id, claimToken: t.claimToken, recordKey: keys[i]! })),
      inProgress,
      now,
      60,
    );
    expect(outcomes).toEqual([{ status: 'started' }, { status: 'started' }, { status: 'started' }]);
    expect(await redis.mget(keys)).toEqual([inProgress, inProgress, inProgress]);
  });

  it('a completed record under the earlier prefix (no hash tag) still dedupes a redelivery', async () => {
    const { engine, scheduler, tasks } = await claimed(1);
    const task = tasks[0]!;
    // Written by an earlier version: Powertools' cache layer, prefix `tickset-idem:<ns>`.
    const earlier = (e: Engine) => {
      const layer = new CachePersistenceLayer({ client: ioredisCacheClient(redis) });
      layer.configure({
        config: new IdempotencyConfig({ eventKeyJmesPath: 'idempotencyKey', expiresAfterSeconds: 3600 }),
        keyPrefix: e.global.legacyIdempotencyPrefix,
      });
      return layer;
    };
    await earlier(engine).saveSuccess({ idempotencyKey: task.idempotencyKey }, { by: 'earlier version' });

    let runs = 0;
    const { handle } = wrapper(engine, () => ++runs);
    expect(await handle(eventOf(task))).toEqual({ status: 'duplicate', result: { by: 'earlier version' } });
    expect(runs).toBe(0);
    expect(await scheduler.get(task.id)).toBeUndefined();

    // The completed record was copied under the new key: later deliveries find it there.
    const copied = await redis.get(recordKeyOf(engine.keys(0).idempotencyPrefix, task.idempotencyKey));
    expect(JSON.parse(copied!)).toMatchObject({ status: 'COMPLETED', data: { by: 'earlier version' } });

    // An execution of an earlier version still running: the delivery is skipped, and leaves no record.
    const running = await claimed(1);
    await earlier(running.engine).saveInProgress(
      { idempotencyKey: running.tasks[0]!.idempotencyKey },
      60_000,
    );
    const skip = wrapper(running.engine, () => ++runs);
    expect(await skip.handle(eventOf(running.tasks[0]!))).toEqual({ status: 'in-progress' });
    expect(runs).toBe(0);
    expect(await redis.keys(`{${running.engine.namespace}:*}:idem#*`)).toEqual([]);

    // With the lookup turned off, the earlier record is not read.
    const second = await claimed(1);
    await earlier(second.engine).saveSuccess({ idempotencyKey: second.tasks[0]!.idempotencyKey }, 'old');
    const off = taskHandler(() => ++runs, {
      engine: second.engine,
      logger: silentLogger,
      metrics: new InMemoryMetrics(),
      legacyRecords: false,
    });
    expect(await off(eventOf(second.tasks[0]!))).toEqual({ status: 'succeeded', result: 1 });
  });

  it('recordState follows Powertools: completed, running until its in-progress expiry, else orphan', () => {
    const now = 1_765_000_000_000;
    expect(recordState(completedRecord(now / 1000 + 60, 'x'), now)).toBe('completed');
    expect(recordState(completedRecord(now / 1000 - 1, 'x'), now)).toBe('orphan');
    expect(recordState(inProgressRecord(now / 1000 + 60, now + 1), now)).toBe('running');
    expect(recordState(inProgressRecord(now / 1000 + 60, now), now)).toBe('orphan');
    expect(recordState('not json', now)).toBe('orphan');
  });
});
