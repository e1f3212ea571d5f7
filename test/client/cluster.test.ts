/** The Scheduler and engine on a 3-master Redis Cluster with 4 shards (issue 2, item 11). */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { shardKeys } from '../../src/core/keys.js';
import type { ScheduleOptions } from '../../src/core/prepare.js';
import { purgeDead, replayDead } from '../../src/core/store/admin.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { TickLoop } from '../../src/tick/loop.js';
import { randomNamespace } from '../support/context.js';
import { spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const SHARDS = 4;

describe('Redis Cluster', () => {
  let cluster: Cluster;
  let namespace: string;
  let nodeOfShard: number[];

  /** The port of the master that serves `key`. */
  async function portOf(
    key: string,
    slots: Array<[number, number, ...Array<[string, number, ...unknown[]]>]>,
  ) {
    const slot = Number(await cluster.cluster('KEYSLOT', key));
    const range = slots.find(([start, end]) => slot >= start && slot <= end);
    return range![2]![1];
  }

  beforeAll(async () => {
    const nodes = inject('clusterUrls').map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) }));
    cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
    const slots = await cluster.cluster('SLOTS');
    // A namespace whose shards live on at least two masters, so the test crosses nodes.
    for (let attempt = 0; ; attempt++) {
      namespace = randomNamespace('c');
      nodeOfShard = await Promise.all(
        Array.from({ length: SHARDS }, (_, s) => portOf(shardKeys(namespace, s).jobs, slots)),
      );
      if (new Set(nodeOfShard).size >= 2) break;
      if (attempt > 50) throw new Error('no namespace spans two masters');
    }
  });
  afterAll(async () => {
    await cluster.quit();
  });

  async function claimAll(tasks: Scheduler, now: number, leaseMs = 30_000): Promise<TaskEventDetail[]> {
    const e = tasks.engine;
    const out: TaskEventDetail[] = [];
    for (let shard = 0; shard < SHARDS; shard++) {
      const handlers = await e.handlersOf(shard);
      await e.promote(shard, handlers, now, 1000);
      const { tasks: claimed } = await e.claim(
        shard,
        handlers.map((h) => spec(h, 1000, { leaseMs })),
        now,
      );
      for (const t of claimed) expect(t.shard).toBe(shard);
      out.push(...claimed);
    }
    return out;
  }

  it('schedules, claims from every shard, acks, gets and cancels by id and key, and counts', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis: cluster, namespace, shards: SHARDS, now: () => now });
    const jobs: ScheduleOptions[] = [];
    for (let i = 0; i < 24; i++)
      jobs.push({
        handler: i % 2 ? 'mail' : 'sms',
        at: T0,
        payload: i,
        ...(i < 12 ? { key: `due-${i}` } : {}),
      });
    const due = await tasks.scheduleMany(jobs);
    const later = [
      await tasks.schedule({ handler: 'mail', key: 'later-keyed', at: T0 + 60_000, payload: 'lk' }),
      await tasks.schedule({ handler: 'mail', at: T0 + 60_000, payload: 'lu' }),
      await tasks.schedule({ handler: 'sms', key: 'later-keyed-2', at: T0 + 60_000, payload: 'lk2' }),
    ];
    // Jobs landed in several shards, which live on several masters.
    const shardsUsed = new Set(await Promise.all(due.map(async (r) => (await tasks.get(r.id))!.shard)));
    expect(shardsUsed.size).toBeGreaterThan(1);
    expect(new Set([...shardsUsed].map((s) => nodeOfShard[s])).size).toBeGreaterThan(1);

    expect(await tasks.stats()).toMatchObject({ scheduled: 3, due: 24, inflight: 0, dead: 0 });
    const claimed = await claimAll(tasks, now);
    expect(claimed.map((t) => t.id).sort()).toEqual(due.map((r) => r.id).sort());
    expect(new Set(claimed.map((t) => t.shard)).size).toBe(shardsUsed.size);
    expect(await tasks.stats()).toMatchObject({ scheduled: 3, due: 0, inflight: 24, dead: 0 });

    const keep = claimed.filter((t) => t.payload === 0 || t.payload === 23);
    for (const t of claimed) if (!keep.includes(t)) expect(await tasks.engine.ack(t)).toBe('acked');
    expect(await tasks.stats()).toMatchObject({ scheduled: 3, due: 0, inflight: 2, dead: 0 });
    expect(await tasks.get('due-0')).toMatchObject({ state: 'inflight', payload: 0 });
    expect(await tasks.get('due-1')).toBeUndefined(); // acked: gone, key released

    expect(await tasks.get('later-keyed')).toMatchObject({
      id: later[0]!.id,
      state: 'scheduled',
      payload: 'lk',
    });
    expect(await tasks.get(later[0]!.id)).toMatchObject({ key: 'later-keyed' }); // by id, though routed by key
    expect(await tasks.get(later[1]!.id)).toMatchObject({ state: 'scheduled', payload: 'lu' });
    expect(await tasks.cancel('later-keyed')).toBe(true);
    expect(await tasks.cancel(later[1]!.id)).toBe(true);
    expect(await tasks.cancel(later[2]!.id)).toBe(true); // keyed job cancelled by its id
    expect(await tasks.cancel('later-keyed')).toBe(false);
    expect(await tasks.get('later-keyed-2')).toBeUndefined();
    expect(await tasks.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 2, dead: 0 });

    // Lease expiry, retry and the dead set, shard by shard.
    now = T0 + 30_000;
    let requeued = 0;
    for (let s = 0; s < SHARDS; s++)
      requeued += (await tasks.engine.requeueExpired(s, await tasks.engine.handlersOf(s), now, 100)).requeued;
    expect(requeued).toBe(2);
    const again = await claimAll(tasks, now);
    expect(again.map((t) => t.attempt)).toEqual([2, 2]);
    for (const t of again)
      expect(await tasks.engine.fail(t, { message: 'x' }, now, { retry: false })).toMatchObject({
        outcome: 'dead',
      });
    expect(await tasks.stats()).toMatchObject({ inflight: 0, dead: 2 });
    expect(await replayDead(tasks.engine, { all: true }, now)).toBe(2);
    const third = await claimAll(tasks, now);
    for (const t of third) await tasks.engine.fail(t, { message: 'y' }, now, { retry: false });
    expect(await purgeDead(tasks.engine, now)).toBe(2);
    expect(await tasks.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 0, dead: 0 });
  });

  it('recurring series arm and fire on their shard', async () => {
    let now = T0;
    const tasks = new Scheduler({
      redis: cluster,
      namespace: randomNamespace('c'),
      shards: SHARDS,
      now: () => now,
    });
    const every = await tasks.schedule({ handler: 'poll', key: 'poll-feed', everyMs: 60_000 });
    const cron = await tasks.schedule({ handler: 'report', key: 'hourly', cron: '0 * * * *' });
    const fired: string[] = [];
    for (let minute = 1; minute <= 120; minute++) {
      now = T0 + minute * 60_000;
      for (const t of await claimAll(tasks, now)) {
        fired.push(t.id);
        await tasks.engine.ack(t);
      }
      for (let s = 0; s < SHARDS; s++) await tasks.engine.armPending(s, now);
    }
    expect(fired.filter((id) => id.startsWith(`${every.id}@`))).toHaveLength(120);
    expect(fired.filter((id) => id.startsWith(`${cron.id}@`))).toEqual([
      `${cron.id}@${T0 + 3_600_000}`,
      `${cron.id}@${T0 + 7_200_000}`,
    ]);
    expect(await tasks.get('hourly')).toMatchObject({
      state: 'scheduled',
      runAt: new Date(T0 + 3 * 3_600_000),
    });
    expect(await tasks.cancel('poll-feed')).toBe(true);
    expect(await tasks.cancel('hourly')).toBe(true);
    expect(await tasks.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 0, dead: 0 });
  });

  it('parked jobs (due in hours) wait on their shard and one tick pass moves and claims them', async () => {
    let now = T0;
    const tasks = new Scheduler({
      redis: cluster,
      namespace,
      shards: SHARDS,
      now: () => now,
    });
    const options: ScheduleOptions[] = Array.from({ length: 24 }, (_, i) => ({
      handler: 'remind',
      delayMs: 3 * 3_600_000 + i,
      ...(i % 2 === 0 ? { key: `user-${i}` } : {}),
      payload: i,
    }));
    const scheduled = await tasks.scheduleMany(options);
    expect(await tasks.get('user-4')).toMatchObject({ state: 'scheduled', parked: true });
    expect(await tasks.cancel('user-4')).toBe(true);
    expect((await tasks.stats()).byHandler.remind).toMatchObject({ scheduled: 23 });
    const published: TaskEventDetail[] = [];
    const loop = new TickLoop({
      engine: tasks.engine,
      publisher: {
        async publish(batch) {
          published.push(...batch);
          return { failed: [] };
        },
      },
      now: () => now,
    });
    now = T0 + 3 * 3_600_000 + 23;
    expect((await loop.pass()).unparked).toBe(23);
    await loop.pass();
    const expected = scheduled.filter((_, i) => i !== 4).map((r) => r.id);
    expect(published.map((t) => t.id).sort()).toEqual(expected.sort());
    for (const t of published) expect(await tasks.engine.ack(t)).toBe('acked');
    expect(await tasks.stats()).toMatchObject({ scheduled: 0, due: 0, inflight: 0 });
  });
});
