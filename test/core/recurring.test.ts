/** Recurring jobs: everyMs and cron series, arming, catch-up after an outage, DST (issue 2, item 6). */
import { Cron } from 'croner';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import { runScript } from '../../src/core/script.js';
import { LUA } from '../../src/core/scripts.generated.js';
import { newClient, randomNamespace, snapshotNamespace } from '../support/context.js';
import { delayedScore, promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const HOUR = 3_600_000;

describe('recurring series', () => {
  const clients: Redis[] = [];
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
    clients.push(redis);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('everyMs: claim arms the next occurrence atomically; one key per occurrence, kept on redelivery', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id, runAt, revision } = await tasks.schedule({
      handler: 'poll',
      payload: { feed: 3 },
      everyMs: 60_000,
    });
    expect(runAt.getTime()).toBe(T0 + 60_000);
    expect(await tasks.get(id)).toMatchObject({ state: 'scheduled', everyMs: 60_000 });

    now = T0 + 59_999;
    expect((await promoteClaim(e, [spec('poll')], now)).tasks).toHaveLength(0);
    now = T0 + 60_000;
    const [occ1] = (await promoteClaim(e, [spec('poll', 10, { leaseMs: 1000 })], now)).tasks;
    expect(occ1).toMatchObject({
      id: `${id}@${T0 + 60_000}`,
      handler: 'poll',
      payload: { feed: 3 },
      attempt: 1,
      idempotencyKey: `${id}:${T0 + 60_000}:${revision}`,
      scheduledFor: new Date(T0 + 60_000).toISOString(),
    });
    // Armed by the claim itself: no other call happened.
    expect(await delayedScore(e, 'poll', id)).toBe(T0 + 120_000);
    expect(await tasks.get(id)).toMatchObject({ state: 'scheduled', runAt: new Date(T0 + 120_000) });
    expect(await tasks.get(occ1!.id)).toMatchObject({ state: 'inflight', attempt: 1 });

    // Redelivery of the occurrence (lease lost, then a failure): same key, no second arming.
    now += 1000;
    expect(await e.requeueExpired(0, ['poll'], now, 100)).toEqual({ requeued: 1, dead: 0 });
    const [again] = (await promoteClaim(e, [spec('poll')], now)).tasks;
    expect(again).toMatchObject({ id: occ1!.id, attempt: 2, idempotencyKey: occ1!.idempotencyKey });
    const failed = await e.fail(again!, { message: 'x' }, now);
    expect(failed.outcome).toBe('retry');
    now = failed.retryAt!;
    const [third] = (await promoteClaim(e, [spec('poll')], now)).tasks;
    expect(third).toMatchObject({ id: occ1!.id, attempt: 3, idempotencyKey: occ1!.idempotencyKey });
    expect(await e.ack(third!)).toBe('acked');
    expect(await delayedScore(e, 'poll', id)).toBe(T0 + 120_000);
    expect(await redis.zcard(e.keys(0).delayed('poll'))).toBe(1);

    now = T0 + 120_000;
    const [occ2] = (await promoteClaim(e, [spec('poll')], now)).tasks;
    expect(occ2).toMatchObject({ id: `${id}@${T0 + 120_000}`, attempt: 1 });
    expect(occ2!.idempotencyKey).toBe(`${id}:${T0 + 120_000}:${revision}`);
    expect(occ2!.idempotencyKey).not.toBe(occ1!.idempotencyKey);
    expect(await delayedScore(e, 'poll', id)).toBe(T0 + 180_000);
  });

  it('everyMs after an outage: the missed occurrence fires once, then the series goes on from now', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'poll', everyMs: 60_000 });
    now = T0 + 60_000 * 50 + 123; // 49 occurrences were missed
    const outage = await promoteClaim(e, [spec('poll')], now);
    expect(outage.tasks.map((t) => t.id)).toEqual([`${id}@${T0 + 60_000}`]);
    expect((await promoteClaim(e, [spec('poll')], now)).tasks).toHaveLength(0);
    const next = (await delayedScore(e, 'poll', id))!;
    expect(next).toBeGreaterThan(now);
    expect(next).toBeLessThanOrEqual(now + 60_000);
    now = next;
    expect((await promoteClaim(e, [spec('poll')], now)).tasks.map((t) => t.id)).toEqual([`${id}@${next}`]);
    expect(await delayedScore(e, 'poll', id)).toBe(next + 60_000);
  });

  /**
   * Drives a cron series like the tick: at each due time promote + claim, ack, then armPending. Returns
   * the occurrence times fired up to `endMs`.
   */
  async function simulateCron(
    expression: string,
    timezone: string,
    startMs: number,
    endMs: number,
    lateMs = 0,
  ): Promise<number[]> {
    let now = startMs;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id, runAt } = await tasks.schedule({ handler: 'cron', cron: expression, timezone });
    const fired: number[] = [];
    let due = runAt.getTime();
    while (due <= endMs) {
      now = due + lateMs;
      const { tasks: claimed } = await promoteClaim(e, [spec('cron')], now);
      expect(claimed).toHaveLength(1);
      const task = claimed[0]!;
      expect(task.id).toBe(`${id}@${due}`);
      expect(task.scheduledFor).toBe(new Date(due).toISOString());
      fired.push(due);
      expect(await e.ack(task)).toBe('acked');
      await e.armPending(0, now);
      const next = await delayedScore(e, 'cron', id);
      expect(next).toBeDefined();
      expect(next!).toBeGreaterThan(due);
      due = next!;
    }
    return fired;
  }

  function cronerSequence(expression: string, timezone: string, startMs: number, endMs: number): number[] {
    const cron = new Cron(expression, { timezone, paused: true });
    return cron
      .nextRuns(1000, new Date(startMs))
      .map((d) => d.getTime())
      .filter((t) => t <= endMs);
  }

  const berlinDay = (ms: number) =>
    new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', dateStyle: 'short' }).format(ms);

  describe('cron across DST in Europe/Berlin', () => {
    const windows = [
      { name: 'spring forward 2026-03-29', start: Date.UTC(2026, 2, 26), end: Date.UTC(2026, 3, 1) },
      { name: 'fall back 2026-10-25', start: Date.UTC(2026, 9, 22), end: Date.UTC(2026, 9, 28) },
    ];
    for (const w of windows) {
      it(`30 2 * * *, ${w.name}: one occurrence per local day, as croner computes`, async () => {
        const fired = await simulateCron('30 2 * * *', 'Europe/Berlin', w.start, w.end, 250);
        expect(fired).toEqual(cronerSequence('30 2 * * *', 'Europe/Berlin', w.start, w.end));
        const days = fired.map(berlinDay);
        expect(new Set(days).size).toBe(fired.length);
        expect(fired).toHaveLength(6);
        // Consecutive local days, no gap.
        for (let i = 1; i < fired.length; i++) {
          const gap = Date.parse(days[i]!) - Date.parse(days[i - 1]!);
          expect(gap).toBe(24 * HOUR);
        }
      });

      it(`0 * * * *, ${w.name}: every real hour exactly once`, async () => {
        const fired = await simulateCron('0 * * * *', 'Europe/Berlin', w.start, w.end);
        expect(fired).toEqual(cronerSequence('0 * * * *', 'Europe/Berlin', w.start, w.end));
        for (let i = 1; i < fired.length; i++) expect(fired[i]! - fired[i - 1]!).toBe(HOUR);
        expect(fired).toHaveLength((w.end - w.start) / HOUR);
      });
    }

    it('the transition days have 23 and 25 hourly occurrences', async () => {
      const spring = await simulateCron(
        '0 * * * *',
        'Europe/Berlin',
        Date.UTC(2026, 2, 28, 22),
        Date.UTC(2026, 2, 29, 21, 59),
      );
      expect(spring.filter((t) => berlinDay(t) === '2026-03-29')).toHaveLength(23);
      const fall = await simulateCron(
        '0 * * * *',
        'Europe/Berlin',
        Date.UTC(2026, 9, 24, 21),
        Date.UTC(2026, 9, 25, 22, 59),
      );
      expect(fall.filter((t) => berlinDay(t) === '2026-10-25')).toHaveLength(25);
    });
  });

  it('6-field cron with seconds', async () => {
    const fired = await simulateCron('*/10 * * * * *', 'UTC', T0, T0 + 60_000);
    expect(fired).toEqual([10, 20, 30, 40, 50, 60].map((s) => T0 + s * 1000));
  });

  it('cron after an outage: the missed occurrence fires once, then the series goes on from now', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'cron', cron: '0 * * * *' });
    now = T0 + 10 * HOUR + 5 * 60_000;
    const { tasks: claimed } = await promoteClaim(e, [spec('cron')], now);
    expect(claimed.map((t) => t.id)).toEqual([`${id}@${T0 + HOUR}`]);
    expect(await tasks.get(id)).toMatchObject({ state: 'arming' });
    expect((await promoteClaim(e, [spec('cron')], now)).tasks).toHaveLength(0);
    expect(await e.armPending(0, now)).toBe(1);
    expect(await delayedScore(e, 'cron', id)).toBe(T0 + 11 * HOUR);
    expect(await tasks.get(id)).toMatchObject({ state: 'scheduled', runAt: new Date(T0 + 11 * HOUR) });
  });

  it('armPending is a compare-and-set: a stale arm call changes nothing', async () => {
    let now = T0;
    const namespace = randomNamespace();
    const tasks = new Scheduler({ redis, namespace, now: () => now });
    const e = tasks.engine;
    const { id, revision } = await tasks.schedule({ handler: 'cron', key: 'hourly', cron: '0 * * * *' });
    now = T0 + HOUR;
    await promoteClaim(e, [spec('cron')], now); // fires T0+1h, arms T0+2h, leaves the series in `arm`
    const k = e.keys(0);
    const arm = (args: Array<string | number>) =>
      runScript<number>(
        redis,
        LUA.armSeries,
        [k.jobs, k.arm, k.delayed('cron'), k.keys, k.prio],
        [id, ...args],
      );

    const before = await snapshotNamespace(redis, namespace);
    // A writer that read an older revision.
    expect(await arm([revision - 1, T0 + 2 * HOUR, '', T0 + 9 * HOUR])).toBe(-2);
    // A writer that read the series before this claim (armed occurrence T0+1h).
    expect(await arm([revision, T0 + HOUR, '', T0 + 9 * HOUR])).toBe(-3);
    // A writer that saw it unarmed.
    expect(await arm([revision, '', T0 + 7 * HOUR, T0 + 8 * HOUR])).toBe(-3);
    expect(await snapshotNamespace(redis, namespace)).toEqual(before);

    expect(await e.armPending(0, now)).toBe(1);
    expect(await delayedScore(e, 'cron', id)).toBe(T0 + 2 * HOUR);
    expect(await redis.smembers(k.arm)).toEqual([]);

    // An upsert between a writer's read and its write: the write is a no-op.
    const upsert = await tasks.schedule({ handler: 'cron', key: 'hourly', cron: '30 * * * *' });
    expect(upsert.id).toBe(id);
    const afterUpsert = await snapshotNamespace(redis, namespace);
    expect(await arm([revision, T0 + 2 * HOUR, '', T0 + 9 * HOUR])).toBe(-2);
    expect(await snapshotNamespace(redis, namespace)).toEqual(afterUpsert);
    expect(await delayedScore(e, 'cron', id)).toBe(T0 + HOUR + 30 * 60_000);
  });

  it('concurrent armPending calls on separate connections arm an unarmed series once', async () => {
    let now = T0;
    const namespace = randomNamespace();
    const tasks = new Scheduler({ redis, namespace, now: () => now });
    const { id } = await tasks.schedule({ handler: 'cron', cron: '*/5 * * * *' });
    now = T0 + HOUR; // outage: the precomputed next occurrence is past, so the claim leaves it unarmed
    await promoteClaim(tasks.engine, [spec('cron')], now);
    expect(await tasks.get(id)).toMatchObject({ state: 'arming' });
    const engines = Array.from({ length: 4 }, () => {
      const c = newClient();
      clients.push(c);
      return new Engine(c, { namespace });
    });
    await Promise.all(engines.map((e) => e.armPending(0, now)));
    const k = tasks.engine.keys(0);
    expect(await redis.zrange(k.delayed('cron'), 0, -1, 'WITHSCORES')).toEqual([
      id,
      String(T0 + HOUR + 5 * 60_000),
    ]);
    expect(await redis.smembers(k.arm)).toEqual([]);
    now = T0 + HOUR + 5 * 60_000;
    const { tasks: claimed } = await promoteClaim(tasks.engine, [spec('cron')], now);
    expect(claimed.map((t) => t.id)).toEqual([`${id}@${now}`]);
  });

  it('a crash between claim and armPending loses nothing and fires nothing twice', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'cron', cron: '0 * * * *' });
    const fired: string[] = [];
    const tick = async () => {
      const { tasks: claimed } = await promoteClaim(e, [spec('cron')], now);
      for (const t of claimed) {
        fired.push(t.id);
        await e.ack(t);
      }
    };
    now = T0 + HOUR;
    await tick(); // fires 1h; "crash": armPending never runs
    now = T0 + 2 * HOUR;
    await tick(); // the precomputed 2h was armed by the claim
    now = T0 + 2 * HOUR + 60_000;
    await tick(); // nothing due
    expect(await e.armPending(0, now)).toBe(1); // the next process arms 3h
    await e.armPending(0, now); // and a repeat call is harmless
    for (const h of [3, 4]) {
      now = T0 + h * HOUR;
      await tick();
      await e.armPending(0, now);
    }
    expect(fired).toEqual([1, 2, 3, 4].map((h) => `${id}@${T0 + h * HOUR}`));
    expect(await delayedScore(e, 'cron', id)).toBe(T0 + 5 * HOUR);
  });

  it('a crash while the series is unarmed, with the next arm call after the next point: it fires once, late', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'cron', cron: '0 * * * *', expiresAt: T0 + 10 * HOUR });
    const fired: string[] = [];
    const tick = async (arm: boolean) => {
      if (arm) await e.armPending(0, now);
      const { tasks: claimed } = await promoteClaim(e, [spec('cron')], now);
      for (const t of claimed) {
        fired.push(t.id);
        await e.ack(t);
      }
      if (arm) await e.armPending(0, now);
    };
    now = T0 + HOUR;
    await tick(false); // fires 1h, arms the precomputed 2h; crash before armPending
    now = T0 + 2 * HOUR + 1000;
    await tick(false); // fires 2h late; nothing precomputed, so the series waits unarmed; crash again
    expect(await tasks.get(id)).toMatchObject({ state: 'arming' });
    now = T0 + 3 * HOUR + 30 * 60_000; // the next process starts after the 3h point
    await tick(true); // 3h was missed: it fires once, now
    await tick(true);
    now = T0 + 4 * HOUR;
    await tick(true);
    expect(fired).toEqual([1, 2, 3, 4].map((h) => `${id}@${T0 + h * HOUR}`));
    expect(await delayedScore(e, 'cron', id)).toBe(T0 + 5 * HOUR);
  });

  it('a crash while unarmed, with the next arm call after expiresAt: a point before expiresAt is not dropped', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'cron', cron: '*/2 * * * * *', expiresAt: T0 + 20_000 });
    now = T0 + 2000 + 2500; // claimed late: the precomputed 4 s point is past, the series waits unarmed
    const { tasks: first } = await promoteClaim(e, [spec('cron')], now);
    expect(first.map((t) => t.id)).toEqual([`${id}@${T0 + 2000}`]);
    now = T0 + 25_000; // armPending only runs after expiresAt
    await e.armPending(0, now);
    // The 6 s point (the first after the claim) was before expiresAt: the series is armed with it, not deleted.
    expect(await delayedScore(e, 'cron', id)).toBe(T0 + 6000);
  });

  it('a series that reaches expiresAt ends cleanly (no body, key, priority or state left)', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const common = { priority: 3, expiresAt: T0 + 2 * HOUR + 1 } as const;
    const { id: every } = await tasks.schedule({ handler: 'rec', key: 'every', everyMs: HOUR, ...common });
    const { id: cron } = await tasks.schedule({ handler: 'rec', key: 'cron', cron: '0 * * * *', ...common });
    const fired: string[] = [];
    for (const h of [1, 2, 3]) {
      now = T0 + h * HOUR;
      const { tasks: claimed } = await promoteClaim(e, [spec('rec')], now);
      for (const t of claimed) {
        fired.push(t.id);
        expect(await e.ack(t)).toBe('acked');
      }
      await e.armPending(0, now);
    }
    expect(fired.sort()).toEqual(
      [
        `${every}@${T0 + HOUR}`,
        `${every}@${T0 + 2 * HOUR}`,
        `${cron}@${T0 + HOUR}`,
        `${cron}@${T0 + 2 * HOUR}`,
      ].sort(),
    );
    expect(await tasks.get('every')).toBeUndefined();
    expect(await tasks.get('cron')).toBeUndefined();
    const k = e.keys(0);
    expect({ keys: await redis.hgetall(k.keys), prio: await redis.hgetall(k.prio) }).toEqual({
      keys: {},
      prio: {},
    });
    expect(await redis.exists(k.jobs, k.keys, k.prio, k.state, k.arm, k.delayed('rec'), k.ready('rec'))).toBe(
      0,
    );
  });

  it('a series claimed after its expiresAt ends as completed: nothing runs, nothing in dead, reported as ended', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    // GIVEN series whose last occurrence falls exactly on expiresAt (armed: it is not after it)
    const common = { priority: 2, expiresAt: T0 + 2 * HOUR } as const;
    const { id: every } = await tasks.schedule({ handler: 'rec', key: 'every', everyMs: HOUR, ...common });
    const { id: cron } = await tasks.schedule({ handler: 'rec', key: 'cron', cron: '0 * * * *', ...common });
    now = T0 + HOUR;
    for (const t of (await promoteClaim(e, [spec('rec')], now)).tasks) expect(await e.ack(t)).toBe('acked');
    await e.armPending(0, now);
    expect(await delayedScore(e, 'rec', every)).toBe(T0 + 2 * HOUR);
    expect(await delayedScore(e, 'rec', cron)).toBe(T0 + 2 * HOUR);
    // WHEN the tick claims them a few milliseconds after expiresAt
    now = T0 + 2 * HOUR + 5;
    const late = await e.claim(0, [spec('rec')], now);
    // THEN nothing runs after expiresAt, nothing is dead (no dead-task alarm for a series that ended), and
    // the claim reports both series as ended
    expect(late).toMatchObject({ tasks: [], expired: 0, seriesEnded: 2 });
    expect(await e.claim(0, [spec('rec')], now)).toMatchObject({ tasks: [], expired: 0, seriesEnded: 0 });
    const k = e.keys(0);
    expect(await redis.zcard(k.dead)).toBe(0);
    expect((await tasks.stats()).dead).toBe(0);
    for (const id of [every, cron]) expect(await tasks.get(`${id}@${T0 + 2 * HOUR}`)).toBeUndefined();
    // AND the series themselves are gone without a trace (ended as completed)
    expect(await tasks.get(every)).toBeUndefined();
    expect(await tasks.get(cron)).toBeUndefined();
    expect(await redis.exists(k.jobs, k.state, k.keys, k.arm, k.ready('rec'), k.delayed('rec'))).toBe(0);
  });
});
