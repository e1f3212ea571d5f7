/**
 * Namespaces on one Redis are isolated: a scheduler or engine of one namespace cannot read, cancel, count or
 * claim another's tasks, even with the same handler names, keys and ids, and even for namespaces whose names
 * are prefixes of each other. An event of namespace A delivered to B's handler is rejected.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { isValidNamespace } from '../../src/core/keys.js';
import { MalformedEventError } from '../../src/errors.js';
import { taskHandler } from '../../src/handler/task-handler.js';
import type { TicksetLogger } from '../../src/observability/logger.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { newClient, snapshotNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

const silent: TicksetLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
let run = 0;

/** Pairs of distinct valid namespaces, often one a prefix of the other or differing in one character. */
const namespaces = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/),
    fc.constantFrom('', '-1', '.0', '_x', '0', 'x'),
  )
  .map(([base, suffix]) => [base, `${base}${suffix}`] as const)
  .filter(([a, b]) => a !== b && isValidNamespace(a) && isValidNamespace(b));

describe('namespace isolation on one Redis', () => {
  it('get, cancel, stats and claims see only their own namespace', async () => {
    await fc.assert(
      fc.asyncProperty(namespaces, fc.integer({ min: 1, max: 3 }), async ([nsA, nsB], shards) => {
        // A fresh pair each run: the random part keeps runs apart, the generated part is the attack.
        const tag = `iso${run++}`;
        const now = Date.now();
        const a = new Scheduler({ redis, namespace: `${tag}${nsA}`, shards, now: () => now });
        const b = new Scheduler({ redis, namespace: `${tag}${nsB}`, shards, now: () => now });
        const ja = await a.schedule({ handler: 'work', at: now, key: 'same-key', payload: 'A' });
        await b.schedule({ handler: 'work', at: now, key: 'same-key', payload: 'B' });
        await b.schedule({ handler: 'work', at: now, payload: 'B2' });

        // Reads: by id and by key, each sees its own.
        expect(await b.get(ja.id)).toBeUndefined();
        expect((await a.get('same-key'))?.payload).toBe('A');
        expect((await b.get('same-key'))?.payload).toBe('B');
        expect((await a.stats()).due).toBe(1);
        expect((await b.stats()).due).toBe(2);

        // Cancel from the other namespace: nothing happens to A.
        const beforeA = await snapshotNamespace(redis, a.engine.namespace);
        expect(await b.cancel(ja.id)).toBe(false);
        expect(await snapshotNamespace(redis, a.engine.namespace)).toEqual(beforeA);

        // Claims: B's engine claims only B's tasks, in every shard.
        const claimedByB: string[] = [];
        for (let shard = 0; shard < shards; shard++) {
          const { tasks } = await promoteClaim(b.engine, [spec('work')], now, shard);
          claimedByB.push(...tasks.map((t) => t.payload as string));
          for (const t of tasks) expect(t.namespace).toBe(b.engine.namespace);
        }
        expect(claimedByB.sort()).toEqual(['B', 'B2']);
        expect(await snapshotNamespace(redis, a.engine.namespace)).toEqual(beforeA);
        expect((await a.stats()).due).toBe(1);
      }),
      { numRuns: 40 },
    );
  });

  it("an event of namespace A delivered to B's handler is rejected, and A's claim is untouched", async () => {
    const now = Date.now();
    const a = new Scheduler({ redis, namespace: `evA${now}`, now: () => now });
    const b = new Scheduler({ redis, namespace: `${a.engine.namespace}-b`, now: () => now });
    await a.schedule({ handler: 'work', at: now, payload: 'A' });
    const { tasks } = await promoteClaim(a.engine, [spec('work')], now);
    const task = tasks[0]!;
    let calls = 0;
    const handleB = taskHandler(
      () => {
        calls++;
      },
      { engine: b.engine, handler: 'work', logger: silent, metrics: new InMemoryMetrics() },
    );
    const beforeA = await snapshotNamespace(redis, a.engine.namespace);
    const beforeB = await snapshotNamespace(redis, b.engine.namespace);
    const error = await handleB({ 'detail-type': 'tickset.task', source: 'tickset', detail: task }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MalformedEventError);
    expect(error).toMatchObject({ field: 'detail.namespace' });
    expect((error as Error).message).toContain(a.engine.namespace);
    expect(calls).toBe(0);
    expect(await snapshotNamespace(redis, a.engine.namespace)).toEqual(beforeA);
    expect(await snapshotNamespace(redis, b.engine.namespace)).toEqual(beforeB);
    // Its own handler still completes it.
    const handleA = taskHandler(() => 'ok', {
      engine: a.engine,
      handler: 'work',
      logger: silent,
      metrics: new InMemoryMetrics(),
    });
    expect((await handleA({ detail: task })).status).toBe('succeeded');
  });
});
