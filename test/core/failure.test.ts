/** fail(): backoff arithmetic, dead after maxAttempts, expiresAt, cancel in flight (issue 2, item 5). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { BackoffOptions } from '../../src/core/prepare.js';
import { newClient, randomNamespace } from '../support/context.js';
import { delayedScore, promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('failure handling', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** Claims and fails a job until it is dead; returns the retry delays seen (retryAt − fail time). */
  async function delaysUntilDead(backoff: BackoffOptions | undefined, maxAttempts: number) {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({
      handler: 'h',
      at: T0,
      maxAttempts,
      ...(backoff ? { backoff } : {}),
    });
    const delays: number[] = [];
    const keys = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const { tasks: claimed } = await promoteClaim(e, [spec('h')], now);
      expect(claimed.map((t) => [t.id, t.attempt])).toEqual([[id, attempt]]);
      keys.add(claimed[0]!.idempotencyKey);
      now += 17; // the handler ran for a while
      const outcome = await e.fail(claimed[0]!, { message: `boom ${attempt}` }, now);
      if (outcome.outcome === 'dead') {
        expect(outcome.attempt).toBe(maxAttempts);
        break;
      }
      expect(outcome).toMatchObject({ outcome: 'retry', attempt });
      delays.push(outcome.retryAt! - now);
      // The retry waits in the delayed queue at exactly retryAt, and is not claimable before it.
      expect(await delayedScore(e, 'h', id)).toBe(outcome.retryAt);
      expect(await tasks.get(id)).toMatchObject({
        state: 'scheduled',
        attempt,
        lastError: `boom ${attempt}`,
      });
      now = outcome.retryAt! - 1;
      expect((await promoteClaim(e, [spec('h')], now)).tasks).toHaveLength(0);
      now += 1;
    }
    // Every delivery of the one occurrence carried the same idempotency key.
    expect(keys.size).toBe(1);
    return { delays, tasks, id, now };
  }

  it('exponential backoff doubles from delayMs and stops at maxDelayMs', async () => {
    const { delays } = await delaysUntilDead({ type: 'exponential', delayMs: 1000, maxDelayMs: 5000 }, 6);
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('fixed backoff waits delayMs every time', async () => {
    const { delays } = await delaysUntilDead({ type: 'fixed', delayMs: 750 }, 4);
    expect(delays).toEqual([750, 750, 750]);
  });

  it('the default backoff is exponential from 1 s', async () => {
    const { delays } = await delaysUntilDead(undefined, 4);
    expect(delays).toEqual([1000, 2000, 4000]);
  });

  it('a fixed backoff longer than the default cap is accepted and honoured', async () => {
    const { delays } = await delaysUntilDead({ type: 'fixed', delayMs: 600_000 }, 2);
    expect(delays).toEqual([600_000]);
  });

  it('dead after maxAttempts: reason and error recorded, visible through get', async () => {
    const { tasks, id, now } = await delaysUntilDead({ type: 'fixed', delayMs: 10 }, 3);
    const job = await tasks.get(id);
    expect(job).toMatchObject({
      id,
      state: 'dead',
      attempt: 3,
      maxAttempts: 3,
      lastReason: 'error',
      lastError: 'boom 3',
    });
    expect(job?.failedAt?.getTime()).toBe(now);
    expect(await tasks.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 0, dead: 1 });
  });

  it('keeps an error text with "|" and newlines, and a custom reason; retry:false dead-letters at once', async () => {
    const now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'h', at: T0, maxAttempts: 5 });
    const [task] = (await promoteClaim(e, [spec('h')], now)).tasks;
    const outcome = await e.fail(task!, { reason: 'timeout', message: 'a|b\nc|d' }, now, { retry: false });
    expect(outcome).toEqual({ outcome: 'dead', attempt: 1 });
    expect(await tasks.get(id)).toMatchObject({ state: 'dead', lastReason: 'timeout', lastError: 'a|b c|d' });
  });

  it('expiresAt passed at claim time: dead with reason "expired", never delivered', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'h', at: T0 + 1000, expiresAt: T0 + 1999 });
    const { id: atEdge } = await tasks.schedule({ handler: 'h', at: T0 + 1000, expiresAt: T0 + 2000 });
    const { id: other } = await tasks.schedule({ handler: 'h', at: T0 + 1000 });
    now = T0 + 2000; // exactly expiresAt of atEdge: still deliverable
    const result = await promoteClaim(e, [spec('h')], now);
    expect(result.expired).toBe(1);
    expect(result.tasks.map((t) => t.id).sort()).toEqual([other, atEdge].sort());
    expect(await tasks.get(id)).toMatchObject({ state: 'dead', lastReason: 'expired', attempt: 0 });
    expect((await tasks.get(id))?.expiresAt?.getTime()).toBe(T0 + 1999);
  });

  it('expiresAt: a retry that would land after it goes to dead (expired) with the error', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({
      handler: 'h',
      at: T0,
      maxAttempts: 10,
      expiresAt: T0 + 2500,
      backoff: { type: 'exponential', delayMs: 1000 },
    });
    const [first] = (await promoteClaim(e, [spec('h')], now)).tasks;
    now = T0 + 100;
    expect(await e.fail(first!, { message: 'one' }, now)).toMatchObject({
      outcome: 'retry',
      retryAt: T0 + 1100,
    });
    now = T0 + 1100;
    const [second] = (await promoteClaim(e, [spec('h')], now)).tasks;
    expect(second?.attempt).toBe(2);
    now = T0 + 1200; // the next retry would be at T0 + 3200, after expiresAt
    expect(await e.fail(second!, { message: 'two' }, now)).toEqual({ outcome: 'dead', attempt: 2 });
    expect(await tasks.get(id)).toMatchObject({ state: 'dead', lastReason: 'expired', lastError: 'two' });
  });

  it('cancel while in flight: the job is gone and the late ack / fail are rejected', async () => {
    const now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'h', at: T0, key: 'order-1' });
    const [task] = (await promoteClaim(e, [spec('h')], now)).tasks;
    expect(await tasks.cancel('order-1')).toBe(true);
    expect(await tasks.get(id)).toBeUndefined();
    expect(await tasks.get('order-1')).toBeUndefined();
    expect(await e.ack(task!)).toBe('missing');
    expect(await e.fail(task!, { message: 'late' }, now)).toMatchObject({ outcome: 'missing' });
    expect(await e.requeueExpired(0, ['h'], now + 3_600_000, 100)).toEqual({ requeued: 0, dead: 0 });
    expect(await tasks.cancel(id)).toBe(false);
    expect(await tasks.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 0, dead: 0 });
    const k = e.keys(0);
    expect(await redis.exists(k.jobs, k.keys, k.state, k.inflight('h'))).toBe(0);
  });

  it('an upsert while in flight supersedes the claim: the old ack is stale, the new job runs', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'h', at: T0, key: 'k', payload: 1 });
    const [old] = (await promoteClaim(e, [spec('h')], now)).tasks;
    now = T0 + 10;
    await tasks.schedule({ handler: 'h', at: now, key: 'k', payload: 2 });
    expect(await e.ack(old!)).toBe('stale');
    expect(await e.fail(old!, { message: 'x' }, now)).toMatchObject({ outcome: 'stale' });
    const [fresh] = (await promoteClaim(e, [spec('h')], now)).tasks;
    expect(fresh).toMatchObject({ id, payload: 2, attempt: 1 });
    expect(fresh!.idempotencyKey).not.toBe(old!.idempotencyKey);
    expect(await e.ack(fresh!)).toBe('acked');
  });

  it('release hands a claim back without counting the attempt', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'h', at: T0 });
    const [task] = (await promoteClaim(e, [spec('h')], now)).tasks;
    expect(await e.release(task!, now + 500, 'ThrottlingException')).toBe(true);
    expect(await e.release(task!, now + 500, 'again')).toBe(false);
    expect(await tasks.get(id)).toMatchObject({ state: 'scheduled', attempt: 0 });
    now += 500;
    const [again] = (await promoteClaim(e, [spec('h')], now)).tasks;
    expect(again).toMatchObject({ id, attempt: 1, idempotencyKey: task!.idempotencyKey });
  });
});
