/**
 * Tick processes killed with SIGKILL (test/support/tick-child.ts): nothing is lost, re-published tasks keep
 * their idempotency key, and a follower takes over once the dead leader's lease lapses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import { eventually, newClient, randomNamespace, redisUrl } from '../support/context.js';
import type { TickChildOptions } from '../support/tick-child.js';
import { PublishedTail, readPublished, spawnTickChild, type TickChild } from '../support/tick-children.js';
import { countBy } from './support.js';

let redis: Redis;
let dir: string;
const children: TickChild[] = [];

beforeAll(() => {
  redis = newClient();
  dir = mkdtempSync(join(tmpdir(), 'tickset-kill-'));
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill('SIGKILL')));
});
afterAll(async () => {
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

function start(options: Omit<TickChildOptions, 'redisUrl'>): TickChild {
  const child = spawnTickChild({ redisUrl: redisUrl(), ...options });
  children.push(child);
  return child;
}

async function scheduleDue(scheduler: Scheduler, n: number): Promise<string[]> {
  const jobs = Array.from({ length: n }, (_, i) => ({ handler: 'work', payload: { i }, at: 0 }));
  return (await scheduler.scheduleMany(jobs)).map((r) => r.id);
}

describe('tick killed with SIGKILL', () => {
  it('mid-batch: nothing is lost, and re-published tasks carry the same idempotency key', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const engine = new Engine(redis, { namespace });
    const ids = await scheduleDue(scheduler, 2000);
    const expectedKey = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 200) {
      const jobs = await Promise.all(ids.slice(i, i + 200).map((id) => scheduler.get(id)));
      for (const job of jobs) expectedKey.set(job!.id, job!.idempotencyKey);
    }

    // First tick: batches of 100; its publisher hangs after 305 entries, in the middle of a batch.
    const outA = join(dir, `${namespace}-a.jsonl`);
    const first = start({
      namespace,
      out: outA,
      ownerId: 'tick-1',
      leaseMs: 1500,
      leaderLeaseMs: 1000,
      batchSize: 100,
      hangAfter: 305,
    });
    await eventually(() => readPublished(outA).length >= 305, 30_000);
    await first.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const publishedByFirst = readPublished(outA);
    expect(publishedByFirst).toHaveLength(305);
    // Claimed by the killed tick: the published ones and the rest of their batches, never delivered.
    const claimedByFirst = new Set(await redis.zrange(engine.keys(0).inflight('work'), 0, -1));
    expect(claimedByFirst.size).toBeGreaterThan(305);
    for (const line of publishedByFirst) expect(claimedByFirst.has(line.id)).toBe(true);

    // Second tick: takes over once the leader lease lapses, requeues the expired claims and publishes
    // everything; the test acks each task as it is published, as a handler would.
    const outB = join(dir, `${namespace}-b.jsonl`);
    const second = start({ namespace, out: outB, ownerId: 'tick-2', leaseMs: 30_000, leaderLeaseMs: 1000 });
    const tail = new PublishedTail(outB);
    const acks: string[] = [];
    const stats = await eventually(async () => {
      for (const line of tail.next()) acks.push(await engine.ack(line));
      const s = await scheduler.stats();
      return s.scheduled + s.due + s.inflight === 0 ? s : undefined;
    }, 30_000);
    expect(stats.dead).toBe(0);
    await second.stop();
    expect(await second.exited).toBe(0);

    const publishedBySecond = readPublished(outB);
    // Every task published at least once; the second tick published each exactly once.
    expect(new Set([...publishedByFirst, ...publishedBySecond].map((l) => l.id))).toEqual(new Set(ids));
    expect(publishedBySecond).toHaveLength(2000);
    expect(countBy(acks)).toEqual(new Map([['acked', 2000]]));
    const firstKey = new Map(publishedByFirst.map((l) => [l.id, l.idempotencyKey]));
    for (const line of publishedBySecond) {
      expect(line.idempotencyKey).toBe(expectedKey.get(line.id));
      if (firstKey.has(line.id)) expect(line.idempotencyKey).toBe(firstKey.get(line.id));
      // A claim lost with the killed tick counted as an attempt.
      expect(line.attempt).toBe(claimedByFirst.has(line.id) ? 2 : 1);
    }
    for (const line of publishedByFirst) expect(line).toMatchObject({ attempt: 1, owner: 'tick-1' });
    console.log(
      `SIGKILL mid-batch: first tick published ${publishedByFirst.length}, claimed ${claimedByFirst.size}; ` +
        `second tick published ${publishedBySecond.length}`,
    );
  });

  it('two ticks: only the leader publishes, each task once; the follower takes over when the leader is killed', async () => {
    const namespace = randomNamespace();
    const scheduler = new Scheduler({ redis, namespace });
    const leaderKey = new Engine(redis, { namespace }).global.leader;
    const outA = join(dir, `${namespace}-a.jsonl`);
    const outB = join(dir, `${namespace}-b.jsonl`);
    const common = { namespace, leaseMs: 30_000, leaderLeaseMs: 2000 };
    const a = start({ ...common, out: outA, ownerId: 'tick-a' });
    await a.ready;
    await eventually(async () => (await redis.get(leaderKey)) === 'tick-a', 30_000);
    const b = start({ ...common, out: outB, ownerId: 'tick-b' });
    await b.ready;

    const wave1 = await scheduleDue(scheduler, 300);
    await eventually(() => readPublished(outA).length + readPublished(outB).length >= 300, 30_000);
    expect(await redis.get(leaderKey)).toBe('tick-a');
    expect(new Set(readPublished(outA).map((l) => l.id))).toEqual(new Set(wave1));
    expect(readPublished(outB)).toEqual([]);

    await a.kill('SIGKILL');
    const wave2 = await scheduleDue(scheduler, 300);
    await eventually(() => readPublished(outB).length >= 300, 30_000);
    expect(await redis.get(leaderKey)).toBe('tick-b');
    expect(new Set(readPublished(outB).map((l) => l.id))).toEqual(new Set(wave2));

    const all = [...readPublished(outA), ...readPublished(outB)].map((l) => l.id);
    expect(all).toHaveLength(600);
    expect(new Set(all).size).toBe(600);
    await b.stop();
    expect(await redis.get(leaderKey)).toBeNull();
  });
});
