/** Concurrent claimers, concurrent producers on one key, and lease expiry fencing (issue 2, items 1–3). */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import type { ScheduleOptions } from '../../src/core/prepare.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('concurrency', () => {
  const clients: Redis[] = [];
  const client = () => {
    const c = newClient();
    clients.push(c);
    return c;
  };
  let redis: Redis;
  beforeAll(() => {
    redis = client();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('8 claimers on separate connections claim each of 10,000 due jobs exactly once', async () => {
    const namespace = randomNamespace();
    const producer = new Scheduler({ redis, namespace, now: () => T0 });
    const scheduled = new Set<string>();
    for (let batch = 0; batch < 10; batch++) {
      const jobs: ScheduleOptions[] = Array.from({ length: 1000 }, (_, i) => ({
        handler: i % 3 === 0 ? 'mail' : 'sms',
        payload: { n: batch * 1000 + i },
        at: T0 - (i % 50),
      }));
      for (const r of await producer.scheduleMany(jobs)) scheduled.add(r.id);
    }
    expect(scheduled.size).toBe(10_000);

    const claimedBy = new Map<string, number>();
    const duplicates: string[] = [];
    const claimer = async (n: number) => {
      const engine = new Engine(client(), { namespace });
      for (;;) {
        const promoted = await engine.promote(0, ['mail', 'sms'], T0, 250);
        const { tasks } = await engine.claim(0, [spec('mail', 60), spec('sms', 60)], T0);
        for (const task of tasks) {
          if (claimedBy.has(task.id)) duplicates.push(task.id);
          claimedBy.set(task.id, n);
        }
        if (promoted === 0 && tasks.length === 0) return;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, n) => claimer(n)));

    expect(duplicates).toEqual([]);
    expect(claimedBy.size).toBe(10_000);
    expect([...claimedBy.keys()].every((id) => scheduled.has(id))).toBe(true);
    // The work really was shared between connections.
    expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);
    const stats = await producer.stats();
    expect(stats).toMatchObject({ scheduled: 0, due: 0, inflight: 10_000, dead: 0 });
  });

  it('4 producers upserting one key leave one job holding the write with the highest revision', async () => {
    const namespace = randomNamespace();
    const producers = Array.from(
      { length: 4 },
      () => new Scheduler({ redis: client(), namespace, now: () => T0 }),
    );
    const writes: Array<{
      revision: number;
      id: string;
      at: number;
      payload: { producer: number; i: number };
    }> = [];
    await Promise.all(
      producers.map(async (producer, p) => {
        for (let i = 0; i < 25; i++) {
          const payload = { producer: p, i };
          const pending = Array.from({ length: 2 }, async (_, j) => {
            const body = { ...payload, i: i * 2 + j };
            const at = T0 + 60_000 + p * 1000 + body.i;
            const r = await producer.schedule({ handler: 'invoice', key: 'customer-7', payload: body, at });
            writes.push({ revision: r.revision, id: r.id, at, payload: body });
          });
          await Promise.all(pending);
        }
      }),
    );
    expect(writes).toHaveLength(200);
    expect(new Set(writes.map((w) => w.revision)).size).toBe(200);
    expect(new Set(writes.map((w) => w.id)).size).toBe(1);
    const last = writes.reduce((a, b) => (b.revision > a.revision ? b : a));

    const job = await producers[0]!.get('customer-7');
    expect(job?.payload).toEqual(last.payload);
    expect(job?.revision).toBe(last.revision);
    expect(job?.id).toBe(last.id);
    expect(job?.runAt?.getTime()).toBe(last.at);
    const k = producers[0]!.engine.keys(0);
    expect(await redis.hlen(k.jobs)).toBe(1);
    expect(await redis.hgetall(k.keys)).toEqual({ 'customer-7': last.id });
    expect(await redis.zcard(k.delayed('invoice'))).toBe(1);
    const stats = await producers[0]!.stats();
    expect(stats.scheduled + stats.due).toBe(1);
  });

  it('an expired lease is requeued with the same idempotency key; the old holder is fenced out', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'charge', payload: { cents: 500 }, at: T0 });

    const first = (await promoteClaim(e, [spec('charge', 10, { leaseMs: 5000 })], now)).tasks;
    expect(first).toHaveLength(1);
    const old = first[0]!;
    expect(old.attempt).toBe(1);

    // Not yet expired: nothing to requeue.
    now = T0 + 4999;
    expect(await e.requeueExpired(0, ['charge'], now, 100)).toEqual({ requeued: 0, dead: 0 });
    now = T0 + 5000;
    expect(await e.requeueExpired(0, ['charge'], now, 100)).toEqual({ requeued: 1, dead: 0 });
    expect((await tasks.get(id))?.state).toBe('due');
    // The old holder cannot act on a requeued job.
    expect(await e.ack(old)).toBe('stale');
    expect((await tasks.get(id))?.state).toBe('due');

    const second = (await promoteClaim(e, [spec('charge', 10, { leaseMs: 5000 })], now)).tasks;
    expect(second).toHaveLength(1);
    const fresh = second[0]!;
    expect(fresh.id).toBe(id);
    expect(fresh.attempt).toBe(2);
    expect(fresh.idempotencyKey).toBe(old.idempotencyKey);
    expect(fresh.scheduledFor).toBe(old.scheduledFor);
    expect(fresh.claimToken).not.toBe(old.claimToken);

    const before = await tasks.get(id);
    expect(await e.ack(old)).toBe('stale');
    expect(await e.fail(old, { message: 'late' }, now)).toMatchObject({ outcome: 'stale' });
    const after = await tasks.get(id);
    expect(after).toEqual(before);
    expect(after?.state).toBe('inflight');
    expect(after?.leaseUntil?.getTime()).toBe(now + 5000);

    expect(await e.ack(fresh)).toBe('acked');
    expect(await tasks.get(id)).toBeUndefined();
  });

  it('a lost lease counts as an attempt: the last one moves the job to dead (lease-expired)', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const { id } = await tasks.schedule({ handler: 'charge', at: T0, maxAttempts: 2 });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const { tasks: claimed } = await promoteClaim(e, [spec('charge', 10, { leaseMs: 1000 })], now);
      expect(claimed.map((t) => t.attempt)).toEqual([attempt]);
      now += 1000;
      expect(await e.requeueExpired(0, ['charge'], now, 100)).toEqual(
        attempt === 1 ? { requeued: 1, dead: 0 } : { requeued: 0, dead: 1 },
      );
    }
    expect(await tasks.get(id)).toMatchObject({ state: 'dead', attempt: 2, lastReason: 'lease-expired' });
  });
});
