/**
 * The whole path through `startLocal` on a real Redis: producer → tick loop → in-process publisher →
 * handler wrapper (idempotency, ack / fail). Lateness is recorded and printed, never asserted.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { ValidationError } from '../../src/errors.js';
import type { Task, TaskOutcome } from '../../src/handler/task-handler.js';
import { type LocalOptions, type LocalRuntime, startLocal } from '../../src/local/start-local.js';
import { eventually, newClient, randomNamespace, redisUrl } from '../support/context.js';

const LEASE = 30_000;

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
const runtimes: LocalRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await redis.quit();
});

interface Observed {
  readonly task: TaskEventDetail;
  readonly outcome: TaskOutcome<unknown> | { status: 'error'; error: unknown };
}

function local(options: Omit<LocalOptions, 'redis' | 'namespace'> & { namespace: string }): {
  runtime: LocalRuntime;
  outcomes: Observed[];
} {
  const outcomes: Observed[] = [];
  const runtime = startLocal({
    redis: redisUrl(),
    leaseMs: LEASE,
    ...options,
    onOutcome: (task, outcome) => outcomes.push({ task, outcome }),
  });
  runtimes.push(runtime);
  return { runtime, outcomes };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function countBy<T>(values: readonly T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

async function drained(scheduler: Scheduler) {
  return eventually(async () => {
    const s = await scheduler.stats();
    return s.scheduled + s.due + s.inflight === 0 ? s : undefined;
  }, 30_000);
}

describe('startLocal', () => {
  it('1,000 tasks due over 3 s run exactly once each (lateness recorded)', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const runs: Array<{ id: string; lateMs: number }> = [];
    local({
      namespace,
      handlers: {
        work: (task) => {
          runs.push({ id: task.id, lateMs: Date.now() - task.scheduledFor.getTime() });
        },
      },
    });
    const base = Date.now() + 300;
    const ids = (
      await scheduler.scheduleMany(
        Array.from({ length: 1000 }, (_, i) => ({ handler: 'work', payload: { i }, at: base + i * 3 })),
      )
    ).map((r) => r.id);

    const stats = await drained(scheduler);
    expect(stats.dead).toBe(0);
    const counts = countBy(runs.map((r) => r.id));
    expect(counts.size).toBe(1000);
    expect(new Set(counts.keys())).toEqual(new Set(ids));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(runs).toHaveLength(1000);

    const lateness = runs.map((r) => r.lateMs).sort((a, b) => a - b);
    console.log(
      `startLocal lateness (due -> handler start), 1,000 tasks over 3 s: ` +
        `p50 ${percentile(lateness, 50)} ms, p99 ${percentile(lateness, 99)} ms, max ${lateness.at(-1)} ms`,
    );
  });

  it('a backlog larger than its room drains in due order, claimed as slots free, never parked in ready', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const k = scheduler.engine.keys(0);
    const started: number[] = [];
    const readySizes: number[] = [];
    const base = Date.now() - 10_000;
    await scheduler.scheduleMany(
      Array.from({ length: 60 }, (_, i) => ({ handler: 'work', payload: i, at: base + i })),
    );
    local({
      namespace,
      concurrency: 2,
      // One handler connection: tasks start in the order they were claimed (with more, a task's "in
      // progress" round trip on one connection may return before an earlier one's on another).
      handlerConnections: 1,
      handlers: {
        work: async (task) => {
          started.push(task.payload as number);
          readySizes.push(await redis.zcard(k.ready('work')));
        },
      },
    });
    await drained(scheduler);
    expect(started).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // A full runtime is waited for: no claim is sent with no room (it would only move the backlog to ready).
    expect(readySizes.every((n) => n === 0)).toBe(true);
  });

  it('handler connections: opened from a passed-in client, used, and closed by stop(); the client stays open', async () => {
    const namespace = randomNamespace();
    const name = `lanes-${namespace}`;
    const client = new Redis(redisUrl(), { maxRetriesPerRequest: null, connectionName: name });
    const named = async () =>
      String(await redis.client('LIST'))
        .split('\n')
        .filter((line: string) => line.includes(` name=${name} `)).length;
    try {
      const scheduler = new Scheduler({ redis, namespace });
      await scheduler.scheduleMany(
        Array.from({ length: 20 }, (_, i) => ({ handler: 'work', payload: i, at: 0 })),
      );
      const ran: number[] = [];
      const runtime = startLocal({
        redis: client,
        namespace,
        handlerConnections: 3,
        handlers: { work: (task) => void ran.push(task.payload as number) },
      });
      await drained(scheduler);
      expect(ran.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      // The client itself, the tick's wake subscriber and the three handler connections.
      expect(await named()).toBe(5);
      await runtime.stop();
      await eventually(async () => (await named()) === 1);
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.quit();
    }
  });

  it('handlerConnections must be a whole number of at least 1 (nothing is started otherwise)', () => {
    for (const bad of [0, 1.5, Number.NaN]) {
      expect(() =>
        startLocal({
          redis: redisUrl(),
          namespace: randomNamespace(),
          handlerConnections: bad,
          handlers: {},
        }),
      ).toThrow(ValidationError);
    }
  });

  it('a task that fails twice, then succeeds, runs three times with one idempotency key', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const attempts: Task[] = [];
    const { outcomes } = local({
      namespace,
      handlers: {
        flaky: (task) => {
          attempts.push(task);
          if (task.attempt < 3) throw new Error(`failure ${task.attempt}`);
          return 'third time lucky';
        },
      },
    });
    const { id } = await scheduler.schedule({
      handler: 'flaky',
      at: 0,
      maxAttempts: 3,
      backoff: { type: 'fixed', delayMs: 50 },
    });
    await eventually(() => outcomes.length >= 3, 20_000);
    expect(outcomes.map((o) => o.outcome.status)).toEqual(['retrying', 'retrying', 'succeeded']);
    expect(attempts.map((t) => t.attempt)).toEqual([1, 2, 3]);
    expect(new Set(attempts.map((t) => t.idempotencyKey)).size).toBe(1);
    expect(new Set(attempts.map((t) => t.id))).toEqual(new Set([id]));
    expect(await scheduler.get(id)).toBeUndefined();
  });

  it('maxAttempts exhausted → dead, with reason "error" and the message', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const { outcomes } = local({
      namespace,
      handlers: {
        broken: () => {
          throw new Error('upstream said no');
        },
      },
    });
    const { id } = await scheduler.schedule({
      handler: 'broken',
      at: 0,
      maxAttempts: 2,
      backoff: { type: 'fixed', delayMs: 50 },
    });
    // The outcome is reported after the failure is recorded.
    await eventually(() => outcomes.length >= 2, 20_000);
    const job = await scheduler.get(id);
    expect(job).toMatchObject({
      state: 'dead',
      attempt: 2,
      lastReason: 'error',
      lastError: 'upstream said no',
    });
    expect(outcomes.map((o) => o.outcome)).toEqual([
      expect.objectContaining({ status: 'retrying', attempt: 1 }),
      { status: 'dead', attempt: 2, reason: 'error' },
    ]);
    expect((await scheduler.stats()).dead).toBe(1);
  });

  it('everyMs 500 fires consecutive occurrences 500 ms apart, each once, each with its own key', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const runs: Task[] = [];
    const late: number[] = [];
    const { runtime, outcomes } = local({
      namespace,
      handlers: {
        beat: (task) => {
          late.push(Date.now() - task.scheduledFor.getTime());
          runs.push(task);
        },
      },
    });
    const { id, runAt } = await scheduler.schedule({ handler: 'beat', payload: 'tick', everyMs: 500 });
    await eventually(() => outcomes.length >= 6, 20_000);
    await runtime.stop();

    expect(outcomes.every((o) => o.outcome.status === 'succeeded')).toBe(true);
    const occurrences = runs.map((t) => t.scheduledFor.getTime());
    expect(new Set(occurrences).size).toBe(runs.length);
    expect(runs.map((t) => t.id)).toEqual(occurrences.map((o) => `${id}@${o}`));
    expect(new Set(runs.map((t) => t.idempotencyKey)).size).toBe(runs.length);
    expect(runs.every((t) => t.attempt === 1 && t.payload === 'tick')).toBe(true);

    // Each occurrence arms the next one when it is claimed: the next is 500 ms later, unless the claim
    // itself came 500 ms or more after it was due (a stall): then missed occurrences fire once, not N times.
    const claimed = outcomes
      .map((o) => ({ at: Date.parse(o.task.scheduledFor), claimedAt: o.task.leaseUntil - LEASE }))
      .sort((a, b) => a.at - b.at);
    expect(claimed[0]!.at).toBe(runAt.getTime());
    let skipped = 0;
    for (let i = 1; i < claimed.length; i++) {
      const { at, claimedAt } = claimed[i - 1]!;
      const next = at + 500 > claimedAt ? at + 500 : at + 500 * (Math.floor((claimedAt - at) / 500) + 1);
      if (next !== at + 500) skipped++;
      expect(claimed[i]!.at).toBe(next);
    }
    console.log(
      `everyMs 500: ${runs.length} occurrences, ${skipped} catch-up skips, lateness ${late.join(', ')} ms`,
    );
    expect(await scheduler.get(id)).toMatchObject({ everyMs: 500 });
    expect(await scheduler.cancel(id)).toBe(true);
  });

  it('rate limit: perSecond 5 never claims more than 5 per one-second window; maxInFlight caps concurrency', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    let running = 0;
    let maxRunning = 0;
    const starts: number[] = [];
    const { outcomes } = local({
      namespace,
      concurrency: 32,
      rateLimits: { limited: { perSecond: 5 }, capped: { maxInFlight: 3 } },
      handlers: {
        limited: () => void starts.push(Date.now()),
        capped: async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          // Some work, so that executions overlap.
          await new Promise((resolve) => setTimeout(resolve, 20));
          running--;
        },
      },
    });
    const limited = await scheduler.scheduleMany(
      Array.from({ length: 30 }, () => ({ handler: 'limited', at: 0 })),
    );
    const capped = await scheduler.scheduleMany(
      Array.from({ length: 20 }, () => ({ handler: 'capped', at: 0 })),
    );
    await drained(scheduler);
    // Outcomes are reported once the "completed + ack" reply reaches the runtime's own connection, which
    // can be just after this connection's stats see the acks.
    await eventually(() => outcomes.length >= 50, 20_000);

    const ofHandler = (h: string) => outcomes.filter((o) => o.task.handler === h);
    expect(new Set(ofHandler('limited').map((o) => o.task.id))).toEqual(new Set(limited.map((r) => r.id)));
    expect(new Set(ofHandler('capped').map((o) => o.task.id))).toEqual(new Set(capped.map((r) => r.id)));
    // The claim time is exact: the lease deadline minus the lease, on the tick's clock.
    const windows = countBy(ofHandler('limited').map((o) => Math.floor((o.task.leaseUntil - LEASE) / 1000)));
    for (const count of windows.values()) expect(count).toBeLessThanOrEqual(5);
    expect([...windows.values()].reduce((a, b) => a + b, 0)).toBe(30);
    expect(maxRunning).toBeGreaterThanOrEqual(1);
    expect(maxRunning).toBeLessThanOrEqual(3);
    const startWindows = countBy(starts.map((t) => Math.floor(t / 1000)));
    console.log(
      `rate limit 5/s, burst 30: claims per window ${[...windows.values()].join(',')}; ` +
        `handler starts per window ${[...startWindows.values()].join(',')}; maxInFlight 3: max concurrent ${maxRunning}`,
    );
  });

  it('a handler past handlerTimeoutMs is retried; its late ack is rejected; attempt 2 acks once', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const firstAttempt = gate();
    const seenDuringAttempt2: unknown[] = [];
    const attempts: number[] = [];
    let runtime!: LocalRuntime;
    const started = local({
      namespace,
      handlerTimeoutMs: 1000,
      handlers: {
        slow: async (task) => {
          attempts.push(task.attempt);
          if (task.attempt === 1) {
            await firstAttempt.promise;
            return 'late';
          }
          // Attempt 1 completes now, while this newer claim is in flight: its ack must be rejected.
          firstAttempt.open();
          await eventually(() => runtime.metrics.get('LateAckRejected') >= 1);
          seenDuringAttempt2.push(await scheduler.get(task.id));
          return 'on time';
        },
      },
    });
    runtime = started.runtime;
    const { id } = await scheduler.schedule({
      handler: 'slow',
      at: 0,
      backoff: { type: 'fixed', delayMs: 50 },
    });
    await eventually(() => started.outcomes.length >= 2, 20_000);

    expect(started.outcomes.map((o) => [o.task.attempt, o.outcome.status])).toEqual([
      [1, 'retrying'],
      [2, 'succeeded'],
    ]);
    expect(attempts).toEqual([1, 2]);
    expect(seenDuringAttempt2).toEqual([expect.objectContaining({ state: 'inflight', attempt: 2 })]);
    expect(await scheduler.get(id)).toBeUndefined();
    expect(runtime.metrics.get('LateAckRejected')).toBe(1);
    expect(runtime.metrics.get('TasksSucceeded')).toBe(1);
    expect(runtime.metrics.get('TasksFailed')).toBe(1);
  });

  it('a task for a handler this runtime does not have is dead-lettered as "unknown-handler"', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    local({ namespace, handlers: { work: () => undefined } });
    const { id } = await scheduler.schedule({ handler: 'nobody', at: 0 });
    const job = await eventually(async () => {
      const j = await scheduler.get(id);
      return j?.state === 'dead' ? j : undefined;
    });
    expect(job.lastReason).toBe('unknown-handler');
  });

  it('stop() hands queued tasks back and waits for running ones; a new runtime runs the rest, each once', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const hold = gate();
    const runs: string[] = [];
    const first = local({
      namespace,
      concurrency: 1,
      handlers: {
        work: async (task) => {
          runs.push(task.id);
          await hold.promise;
        },
      },
    });
    const ids = (
      await scheduler.scheduleMany(
        Array.from({ length: 10 }, (_, i) => ({ handler: 'work', payload: i, at: 0 })),
      )
    ).map((r) => r.id);
    // One running, one queued in the publisher (capacity is twice the concurrency).
    await eventually(async () => runs.length === 1 && (await scheduler.stats()).inflight === 2);
    const stopping = first.runtime.stop();
    // The queued task goes back (due now) while the running one is still held; then let it finish.
    await eventually(async () => {
      const s = await scheduler.stats();
      return s.inflight === 1 && s.due === 9;
    });
    hold.open();
    await stopping;
    expect(runs).toHaveLength(1);
    expect(await scheduler.stats()).toMatchObject({ inflight: 0, due: 9 });

    local({ namespace, handlers: { work: (task) => void runs.push(task.id) } });
    await drained(scheduler);
    expect(runs.sort()).toEqual([...ids].sort());
  });
});
