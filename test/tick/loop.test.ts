/**
 * TickLoop against a real Redis with an injected clock and a recording publisher: one pass, publish
 * failures, unknown and paused handlers, exact rate-limit windows and in-flight caps, overlapping passes,
 * the wake channel, and two `second`-mode loops sharing a namespace.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { decodeClaim, Engine, type RawClaim } from '../../src/core/engine.js';
import { readHeartbeat } from '../../src/core/inspect.js';
import { setPaused } from '../../src/core/store/admin.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { TickLoop } from '../../src/tick/loop.js';
import { eventually, newClient, randomNamespace } from '../support/context.js';
import { countBy, RecordingPublisher } from './support.js';

/** A whole second, so one-second rate windows start at T0. */
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const LEASE = 30_000;

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

/** A namespace with a fake clock shared by the producer, the loop and the publisher. */
function setup() {
  const clock = { now: T0 };
  const now = () => clock.now;
  const engine = new Engine(redis, { namespace: randomNamespace() });
  const scheduler = new Scheduler({ redis, namespace: engine.namespace, now });
  const publisher = new RecordingPublisher(now);
  return { clock, now, engine, scheduler, publisher };
}

async function scheduleN(scheduler: Scheduler, handler: string, n: number, at: number): Promise<string[]> {
  const results = await scheduler.scheduleMany(
    Array.from({ length: n }, (_, i) => ({ handler, payload: { i }, at })),
  );
  return results.map((r) => r.id);
}

describe('one pass (minute mode)', () => {
  it('publishes what is due, leaves what is not, and writes a heartbeat', async () => {
    const { clock, now, engine, scheduler, publisher } = setup();
    const due = await scheduleN(scheduler, 'work', 25, T0);
    const later = await scheduleN(scheduler, 'work', 5, T0 + 20_000);
    const metrics = new InMemoryMetrics();
    const loop = new TickLoop({ engine, publisher, now, leaseMs: LEASE, metrics, ownerId: 'minute-1' });

    const stats = await loop.pass();
    expect(stats).toMatchObject({ claimed: 25, published: 25, publishFailed: 0, unknownHandler: 0 });
    expect(publisher.ids().sort()).toEqual([...due].sort());
    for (const { task } of publisher.published) {
      expect(task).toMatchObject({ handler: 'work', attempt: 1, namespace: engine.namespace, shard: 0 });
      expect(task.leaseUntil).toBe(T0 + LEASE);
      expect(task.scheduledFor).toBe(new Date(T0).toISOString());
    }
    expect(metrics.get('TasksDispatched')).toBe(25);
    expect(await readHeartbeat(engine)).toEqual({ at: new Date(T0), owner: 'minute-1', mode: 'minute' });
    expect(await scheduler.stats()).toMatchObject({ scheduled: 5, due: 0, inflight: 25, dead: 0 });

    // Nothing new is due: a second pass publishes nothing.
    expect((await loop.pass()).claimed).toBe(0);
    clock.now = T0 + 20_000;
    expect(await loop.pass()).toMatchObject({ claimed: 5, published: 5 });
    expect(publisher.ids().slice(25).sort()).toEqual([...later].sort());
  });

  it('two overlapping passes on separate connections publish every task exactly once', async () => {
    const { now, engine, scheduler } = setup();
    const ids = await scheduleN(scheduler, 'work', 2000, T0);
    const other = newClient();
    try {
      const a = new RecordingPublisher(now, 'a');
      const b = new RecordingPublisher(now, 'b');
      const loopA = new TickLoop({ engine, publisher: a, now, batchSize: 50, leaseMs: LEASE });
      const loopB = new TickLoop({
        engine: new Engine(other, { namespace: engine.namespace }),
        publisher: b,
        now,
        batchSize: 50,
        leaseMs: LEASE,
      });
      const [sa, sb] = await Promise.all([loopA.pass(), loopB.pass()]);
      expect(sa.claimed + sb.claimed).toBe(2000);
      const all = [...a.ids(), ...b.ids()];
      expect(all).toHaveLength(2000);
      expect(new Set(all)).toEqual(new Set(ids));
      console.log(`overlapping passes: a published ${a.published.length}, b ${b.published.length}`);
    } finally {
      await other.quit();
    }
  });
});

describe('cron series during a long drain', () => {
  it('are armed as the drain goes on, so a per-second series keeps firing behind a backlog', async () => {
    // GIVEN a per-second cron series (priority 100, so it jumps the queue) and 5,000 jobs due at once
    const { clock, now, engine, scheduler, publisher } = setup();
    const { id: series } = await scheduler.schedule({ handler: 'work', cron: '* * * * * *', priority: 100 });
    await scheduleN(scheduler, 'work', 5000, T0 + 1000);
    // AND a publisher that takes 400 ms of loop-clock time per batch
    publisher.onPublish = () => {
      clock.now += 400;
      return new Map();
    };
    clock.now = T0 + 1000;
    const loop = new TickLoop({ engine, publisher, now, batchSize: 500, leaseMs: LEASE });
    // WHEN one pass drains the backlog (10 batches, 4 s on the loop clock)
    const stats = await loop.pass();
    // THEN the series fires at every second of the drain instead of stalling after its second occurrence
    // (without arming during the drain: 1 s, 2 s, then nothing until the pass ends)
    const fired = publisher.ids().filter((id) => id.startsWith(`${series}@`));
    expect(fired).toEqual([1, 2, 3, 4].map((s) => `${series}@${T0 + s * 1000}`));
    expect(stats.claimed).toBe(5000 + fired.length);
  });
});

describe('draining a backlog with claims sent ahead', () => {
  it('a backlog of many batches: every task published once, in batches of at most batchSize', async () => {
    const { now, engine, scheduler, publisher } = setup();
    const ids = await scheduleN(scheduler, 'work', 95, T0);
    const loop = new TickLoop({ engine, publisher, now, batchSize: 10, claimAhead: 2, leaseMs: LEASE });
    expect(await loop.pass()).toMatchObject({ claimed: 95, published: 95 });
    expect(publisher.ids()).toHaveLength(95);
    expect(new Set(publisher.ids())).toEqual(new Set(ids));
    expect(Math.max(...publisher.calls.map((c) => c.length))).toBe(10);
    expect(await scheduler.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 95 });
  });

  it('stop() during a drain: the claims already sent are still published, the rest stays due', async () => {
    const { now, engine, scheduler, publisher } = setup();
    await scheduleN(scheduler, 'work', 100, T0);
    const loop = new TickLoop({ engine, publisher, now, batchSize: 10, claimAhead: 2, leaseMs: LEASE });
    publisher.onPublish = () => {
      loop.stop();
      return new Map();
    };
    const stats = await loop.pass();
    // Whatever was claimed (the batch that stopped the loop and those sent ahead of it) was published.
    expect(stats.claimed).toBe(stats.published);
    expect(stats.claimed).toBeLessThan(100);
    const inflight = await redis.zrange(engine.keys(0).inflight('work'), 0, -1);
    expect(new Set(inflight)).toEqual(new Set(publisher.ids()));
    expect(await scheduler.stats()).toMatchObject({ due: 100 - stats.claimed, inflight: stats.claimed });
  });
});

describe('publish failures', () => {
  it('failed entries are released with a backoff, the attempt is not counted, and they are published later with the same key', async () => {
    const { clock, now, engine, scheduler, publisher } = setup();
    const ids = await scheduleN(scheduler, 'work', 10, T0);
    const failing = new Set(ids.slice(0, 3));
    const failedOnce = new Set<string>();
    publisher.onPublish = (tasks) => {
      const fail = tasks.filter((t) => failing.has(t.id) && !failedOnce.has(t.id));
      for (const t of fail) failedOnce.add(t.id);
      return new Map(fail.map((t) => [t.id, 'ThrottlingException']));
    };
    const firstTry = new Map<string, string>();
    const metrics = new InMemoryMetrics();
    const loop = new TickLoop({ engine, publisher, now, leaseMs: LEASE, publishRetryDelayMs: 1000, metrics });

    expect(await loop.pass()).toMatchObject({ claimed: 10, published: 7, publishFailed: 3 });
    for (const call of publisher.calls) for (const t of call) firstTry.set(t.id, t.idempotencyKey);
    expect(metrics.get('PublishFailures')).toBe(3);
    for (const id of failing) {
      expect(await scheduler.get(id)).toMatchObject({
        state: 'scheduled',
        attempt: 0,
        runAt: new Date(T0 + 1000),
        lastReason: 'publish-failed',
        lastError: 'ThrottlingException',
      });
    }
    expect(await scheduler.stats()).toMatchObject({ scheduled: 3, inflight: 7 });

    clock.now = T0 + 999;
    expect((await loop.pass()).claimed).toBe(0);
    clock.now = T0 + 1000;
    // Released, not failed: the retry is attempt 1 again.
    expect(await loop.pass()).toMatchObject({ claimed: 3, published: 3, publishFailed: 0 });
    const retried = publisher.published.slice(7).map((p) => p.task);
    expect(retried.map((t) => t.id).sort()).toEqual([...failing].sort());
    for (const t of retried) {
      expect(t.attempt).toBe(1);
      expect(t.idempotencyKey).toBe(firstTry.get(t.id));
    }
    expect(countBy(publisher.ids()).size).toBe(10);
    for (const { task } of publisher.published) expect(await engine.ack(task)).toBe('acked');
    expect(await scheduler.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 0, dead: 0 });
  });

  it('a publisher that throws releases the whole batch; nothing is lost', async () => {
    const { clock, now, engine, scheduler, publisher } = setup();
    const ids = await scheduleN(scheduler, 'work', 40, T0);
    let calls = 0;
    publisher.onPublish = () => {
      calls++;
      if (calls === 1) throw new Error('connect ETIMEDOUT');
      return new Map();
    };
    const loop = new TickLoop({ engine, publisher, now, leaseMs: LEASE, batchSize: 40 });
    expect(await loop.pass()).toMatchObject({ claimed: 40, published: 0, publishFailed: 40 });
    expect(await scheduler.get(ids[0]!)).toMatchObject({ attempt: 0, lastError: 'connect ETIMEDOUT' });
    clock.now = T0 + 1000;
    expect(await loop.pass()).toMatchObject({ claimed: 40, published: 40 });
    expect(new Set(publisher.ids())).toEqual(new Set(ids));
  });
});

describe('store errors while publishing', () => {
  it('a release that fails (Redis error) fails the pass cleanly; the claims come back after their lease', async () => {
    const { clock, now, engine, scheduler, publisher } = setup();
    const ids = await scheduleN(scheduler, 'work', 5, T0);
    class FailingRelease extends Engine {
      override async release(): Promise<boolean> {
        throw new Error('OOM command not allowed when used memory > maxmemory');
      }
    }
    const broken = new FailingRelease(redis, { namespace: engine.namespace });
    publisher.onPublish = (tasks) => new Map(tasks.map((t) => [t.id, 'ThrottlingException']));
    const loop = new TickLoop({ engine: broken, publisher, now, leaseMs: LEASE });
    // Rejects, and nothing else rejects unhandled (vitest fails the run on an unhandled rejection).
    await expect(loop.pass()).rejects.toThrow(/OOM/);
    expect(await scheduler.stats()).toMatchObject({ inflight: 5 });

    publisher.onPublish = () => new Map();
    clock.now = T0 + LEASE;
    const healthy = new TickLoop({ engine, publisher, now, leaseMs: LEASE });
    expect(await healthy.pass()).toMatchObject({ requeued: 5, claimed: 5, published: 5 });
    expect(new Set(publisher.ids())).toEqual(new Set(ids));
    expect(publisher.published.every((p) => p.task.attempt === 2)).toBe(true);
  });
});

describe('handlers', () => {
  it('a task for an unknown handler is dead-lettered with reason "unknown-handler"; others flow', async () => {
    const { now, engine, scheduler, publisher } = setup();
    const ok = await scheduleN(scheduler, 'work', 2, T0);
    const [ghost] = await scheduleN(scheduler, 'ghost', 1, T0);
    const metrics = new InMemoryMetrics();
    const loop = new TickLoop({ engine, publisher, now, knownHandlers: new Set(['work']), metrics });
    expect(await loop.pass()).toMatchObject({ claimed: 3, published: 2, unknownHandler: 1 });
    expect(publisher.ids().sort()).toEqual([...ok].sort());
    const dead = await scheduler.get(ghost!);
    expect(dead).toMatchObject({ state: 'dead', lastReason: 'unknown-handler' });
    expect(dead?.lastError).toContain('ghost');
    expect(metrics.get('TasksDeadLettered')).toBe(1);
  });

  it('a paused handler waits while others flow; resumed, it flows', async () => {
    const { clock, now, engine, scheduler, publisher } = setup();
    const slow = await scheduleN(scheduler, 'slow', 3, T0);
    const fast = await scheduleN(scheduler, 'fast', 3, T0);
    await setPaused(engine, 'slow', true);
    const loop = new TickLoop({ engine, publisher, now, leaseMs: LEASE });

    expect(await loop.pass()).toMatchObject({ claimed: 3 });
    expect(publisher.ids().sort()).toEqual([...fast].sort());
    clock.now = T0 + 5000;
    expect((await loop.pass()).claimed).toBe(0);
    for (const id of slow) expect((await scheduler.get(id))?.state).toBe('due');
    expect((await scheduler.stats()).byHandler.slow).toMatchObject({ paused: true, due: 3 });

    await setPaused(engine, 'slow', false);
    expect(await loop.pass()).toMatchObject({ claimed: 3 });
    expect(publisher.ids().slice(3).sort()).toEqual([...slow].sort());
  });
});

/** An engine that records, per claim call, the Redis time of the claim and how many tasks of each handler it took. */
class ClaimRecordingEngine extends Engine {
  readonly claims: Array<{ at: number; handler: string; count: number }> = [];
  override async claimRaw(...args: Parameters<Engine['claimRaw']>): Promise<RawClaim> {
    const raw = await super.claimRaw(...args);
    const counts = countBy(decodeClaim(raw).tasks.map((t) => t.handler));
    for (const [handler, count] of counts) this.claims.push({ at: Number(raw.reply[1]), handler, count });
    return raw;
  }
}

/** Largest number of claims in any window [t, t + 1000) over the records. */
function busiestWindow(records: ReadonlyArray<{ at: number; count: number }>): number {
  const sorted = [...records].sort((x, y) => x.at - y.at);
  let best = 0;
  for (let i = 0; i < sorted.length; i++) {
    let sum = 0;
    for (let j = i; j < sorted.length && sorted[j]!.at < sorted[i]!.at + 1000; j++) sum += sorted[j]!.count;
    best = Math.max(best, sum);
  }
  return best;
}

describe('limits (rate limits on Redis time, caps exact)', () => {
  it('perSecond 5 with a burst of 30 over 2 shards: at most 5 claims in any sliding second, other handlers unaffected', async () => {
    const clock = { now: T0 };
    const now = () => clock.now;
    const engine = new ClaimRecordingEngine(redis, { namespace: randomNamespace(), shards: 2 });
    const scheduler = new Scheduler({ redis, namespace: engine.namespace, shards: 2, now });
    const publisher = new RecordingPublisher(now);
    const burst = await scheduleN(scheduler, 'limited', 30, T0);
    const free = await scheduleN(scheduler, 'free', 30, T0);
    const loop = new TickLoop({
      engine,
      publisher,
      now,
      leaseMs: LEASE,
      rateLimits: { limited: { perSecond: 5 } },
    });
    await loop.pass();
    // The free handler went out in the first pass, not behind the limited backlog.
    expect(new Set(publisher.ids().filter((id) => free.includes(id)))).toEqual(new Set(free));
    // Passes as fast as they come (a tick under a backlog) until the burst is out.
    await eventually(
      async () => {
        await loop.pass();
        return publisher.published.filter((p) => p.task.handler === 'limited').length >= 30;
      },
      30_000,
      1,
    );
    const limited = engine.claims.filter((c) => c.handler === 'limited');
    expect(limited.every((c) => c.at > 0)).toBe(true);
    expect(busiestWindow(limited)).toBeLessThanOrEqual(5);
    expect(
      new Set(publisher.published.filter((p) => p.task.handler === 'limited').map((p) => p.task.id)),
    ).toEqual(new Set(burst));
  });

  it('maxInFlight 4: never more than 4 claimed and unacknowledged', async () => {
    const { clock, now, engine, scheduler, publisher } = setup();
    await scheduleN(scheduler, 'capped', 10, T0);
    const loop = new TickLoop({
      engine,
      publisher,
      now,
      leaseMs: LEASE,
      rateLimits: { capped: { maxInFlight: 4 } },
    });
    expect((await loop.pass()).claimed).toBe(4);
    expect((await loop.pass()).claimed).toBe(0);
    await engine.ack(publisher.published[0]!.task);
    await engine.ack(publisher.published[1]!.task);
    clock.now += 10;
    expect((await loop.pass()).claimed).toBe(2);
    for (const p of publisher.published.slice(2)) await engine.ack(p.task);
    expect((await loop.pass()).claimed).toBe(4);
    expect(await scheduler.stats()).toMatchObject({ due: 0, inflight: 4 });
  });
});

describe('second mode (real clock)', () => {
  it('a loop sleeping towards a far due time wakes when a producer schedules something sooner', async () => {
    const engine = new Engine(redis, { namespace: randomNamespace() });
    const scheduler = new Scheduler({ redis, namespace: engine.namespace });
    const publisher = new RecordingPublisher();
    const far = await scheduler.schedule({ handler: 'work', payload: 'far', delayMs: 60_000 });
    const loop = new TickLoop({
      engine,
      publisher,
      leaseMs: LEASE,
      maxSleepMs: 120_000,
      leaderLeaseMs: 600_000,
    });
    const running = loop.run(Date.now() + 120_000);
    try {
      // The first pass is done (heartbeat written), so the loop now sleeps towards the far job.
      await eventually(async () => (await readHeartbeat(engine))?.owner === loop.ownerId);
      const near = await scheduler.schedule({ handler: 'work', payload: 'near', delayMs: 200 });
      // Published at all means woken: without the wake the loop would sleep for a minute.
      await eventually(() => publisher.ids().includes(near.id), 20_000);
      expect(publisher.ids()).toEqual([near.id]);
      const lateness = publisher.published[0]!.at - near.runAt.getTime();
      console.log(`wake channel: near job published ${lateness} ms after due (far job due in 60 s)`);
      expect((await scheduler.get(far.id))?.state).toBe('scheduled');
    } finally {
      loop.stop();
      await running;
    }
  });

  it('an idle leader renews its lease before it lapses, even when leaderLeaseMs < maxSleepMs', async () => {
    const namespace = randomNamespace();
    const clients = [newClient(), newClient()];
    const [ca, cb] = clients as [Redis, Redis];
    const leaderKey = new Engine(redis, { namespace }).global.leader;
    // Something to loop over, due far away: both loops sleep as long as they may.
    await new Scheduler({ redis, namespace }).schedule({ handler: 'work', delayMs: 600_000 });
    const options = { leaseMs: LEASE, leaderLeaseMs: 1500, maxSleepMs: 5000 };
    const a = new TickLoop({
      engine: new Engine(ca, { namespace }),
      publisher: new RecordingPublisher(),
      ownerId: 'idle-a',
      ...options,
    });
    const b = new TickLoop({
      engine: new Engine(cb, { namespace }),
      publisher: new RecordingPublisher(),
      ownerId: 'idle-b',
      ...options,
    });
    const until = Date.now() + 60_000;
    const runA = a.run(until);
    let runB: ReturnType<TickLoop['run']> | undefined;
    const owners: Array<string | null> = [];
    try {
      await eventually(async () => (await redis.get(leaderKey)) === 'idle-a');
      runB = b.run(until);
      // Sample the lease owner across several lease lengths and sleeps.
      const start = Date.now();
      await eventually(async () => {
        owners.push(await redis.get(leaderKey));
        return Date.now() - start > 2500;
      }, 30_000);
    } finally {
      b.stop();
      a.stop();
    }
    expect((await runB)?.led).toBe(false);
    expect((await runA).led).toBe(true);
    expect(countBy(owners)).toEqual(new Map([['idle-a', owners.length]]));
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('two loops: only the leader publishes, every task once; when it stops the other takes over', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const clients = [newClient(), newClient(), newClient()];
    const [ca, cb, watcher] = clients as [Redis, Redis, Redis];
    const leaderKey = new Engine(redis, { namespace }).global.leader;
    const leaderAtPublish: Array<{ by: string; leader: string | null }> = [];
    const make = (client: Redis, owner: string) => {
      const publisher = new RecordingPublisher(Date.now, owner);
      const inner = publisher.onPublish;
      publisher.onPublish = async (tasks) => {
        leaderAtPublish.push({ by: owner, leader: await watcher.get(leaderKey) });
        return inner(tasks);
      };
      const loop = new TickLoop({
        engine: new Engine(client, { namespace }),
        publisher,
        leaseMs: LEASE,
        leaderLeaseMs: 3000,
        ownerId: owner,
      });
      return { publisher, loop };
    };
    const a = make(ca, 'loop-a');
    const b = make(cb, 'loop-b');
    const until = Date.now() + 60_000;
    const runA = a.loop.run(until);
    let runB: ReturnType<TickLoop['run']> | undefined;
    try {
      await eventually(async () => (await watcher.get(leaderKey)) === 'loop-a');
      runB = b.loop.run(until);
      const wave1 = (
        await scheduler.scheduleMany(
          Array.from({ length: 300 }, (_, i) => ({ handler: 'work', payload: i, at: 0 })),
        )
      ).map((r) => r.id);
      await eventually(() => a.publisher.published.length + b.publisher.published.length >= 300);
      expect(new Set(a.publisher.ids())).toEqual(new Set(wave1));
      expect(a.publisher.published).toHaveLength(300);
      expect(b.publisher.published).toHaveLength(0);
      expect(await watcher.get(leaderKey)).toBe('loop-a');

      // The leader stops (releasing its lease); the follower takes over.
      a.loop.stop();
      expect((await runA).led).toBe(true);
      const wave2 = (
        await scheduler.scheduleMany(
          Array.from({ length: 300 }, (_, i) => ({ handler: 'work', payload: i, at: 0 })),
        )
      ).map((r) => r.id);
      await eventually(() => b.publisher.published.length >= 300);
      expect(new Set(b.publisher.ids())).toEqual(new Set(wave2));
      expect(await watcher.get(leaderKey)).toBe('loop-b');

      const all = [...a.publisher.ids(), ...b.publisher.ids()];
      expect(all).toHaveLength(600);
      expect(new Set(all).size).toBe(600);
      for (const p of leaderAtPublish) expect(p.leader).toBe(p.by);
    } finally {
      a.loop.stop();
      b.loop.stop();
      await runA;
      await runB;
      await Promise.all(clients.map((c) => c.quit()));
    }
  });
});
