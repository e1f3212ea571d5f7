/**
 * The cluster-shaped connection ElastiCache Serverless needs: `connect(url, { cluster: true })` and
 * `Scheduler.fromEnv` with TICKSET_REDIS_CLUSTER=true, against the local 3-master cluster. The whole path
 * runs there: schedule, claim on every shard, the handler wrapper (idempotency records live outside the
 * shards' hash tags), ack, duplicate delivery.
 */
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { taskHandler } from '../../src/handler/task-handler.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { connect, type RedisClient } from '../../src/redis/connection.js';
import { randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const opened: Array<{ close(): Promise<void> }> = [];

afterAll(async () => {
  for (const o of opened) await o.close();
});

async function exercise(scheduler: Scheduler): Promise<void> {
  const now = Date.now();
  const shards = scheduler.engine.shards;
  const results = await scheduler.scheduleMany(
    Array.from({ length: 12 }, (_, i) => ({ handler: 'work', at: now, key: `k-${i}`, payload: { i } })),
  );
  expect(new Set(results.map((r) => r.id)).size).toBe(12);
  expect((await scheduler.get('k-3'))?.payload).toEqual({ i: 3 });
  const early = await scheduler.stats();
  expect(early.due, JSON.stringify(early)).toBe(12);

  const handled: number[] = [];
  const handle = taskHandler(
    (task) => {
      handled.push((task.payload as { i: number }).i);
      return 'done';
    },
    { engine: scheduler.engine, handler: 'work', logger: silent, metrics: new InMemoryMetrics() },
  );
  let claimed = 0;
  for (let shard = 0; shard < shards; shard++) {
    const { tasks } = await promoteClaim(scheduler.engine, [spec('work')], Date.now() + 1_000, shard);
    claimed += tasks.length;
    for (const task of tasks) {
      expect((await handle({ detail: task })).status).toBe('succeeded');
      expect((await handle({ detail: task })).status).toMatch(/duplicate|stale/);
    }
  }
  expect(claimed).toBe(12);
  expect(handled.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  const stats = await scheduler.stats();
  expect(stats.due + stats.inflight + stats.scheduled).toBe(0);
}

describe('cluster-shaped connection (ElastiCache Serverless)', () => {
  it('connect(url, { cluster: true }) runs the whole path across masters', async () => {
    const [url] = inject('clusterUrls');
    const client: RedisClient = connect(url!, { cluster: true });
    client.on('error', () => undefined);
    const scheduler = new Scheduler({ redis: client, namespace: randomNamespace('cl'), shards: 6 });
    opened.push({ close: () => client.quit().then(() => undefined) });
    expect(client).toBeInstanceOf(Cluster);
    await exercise(scheduler);
  });

  it('Scheduler.fromEnv with TICKSET_REDIS_CLUSTER=true', async () => {
    const [, url] = inject('clusterUrls');
    const scheduler = await Scheduler.fromEnv({
      TICKSET_REDIS_URL: url,
      TICKSET_REDIS_CLUSTER: 'true',
      TICKSET_NAMESPACE: randomNamespace('cl'),
      TICKSET_SHARDS: '4',
    });
    opened.push(scheduler);
    expect(scheduler.engine.redis).toBeInstanceOf(Cluster);
    await exercise(scheduler);
  });
});
