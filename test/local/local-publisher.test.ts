/**
 * LocalPublisher on its own (no tick): bounded concurrency, and how running tasks are spread over the
 * handler connections ("lanes"): a slot freed on a lane is refilled on that lane, so tasks that finish
 * together start their successors together on one connection.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/core/engine.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import type { TaskOutcome } from '../../src/handler/task-handler.js';
import { LocalPublisher, type WrappedHandler } from '../../src/local/local-publisher.js';
import { eventually, newClient, randomNamespace } from '../support/context.js';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

function detail(id: string): TaskEventDetail {
  return {
    v: 1,
    id,
    handler: 'work',
    payload: null,
    attempt: 1,
    idempotencyKey: id,
    scheduledFor: new Date(0).toISOString(),
    claimToken: 't',
    namespace: 'ns',
    shard: 0,
    leaseUntil: 0,
  } as TaskEventDetail;
}

/** Two lanes whose handlers wait until released, recording which lane ran which task. */
function lanes() {
  const ranOn = new Map<string, number>();
  const release = new Map<string, () => void>();
  const lane = (index: number): ReadonlyMap<string, WrappedHandler> =>
    new Map([
      [
        'work',
        (event: unknown) => {
          const id = (event as { detail: TaskEventDetail }).detail.id;
          ranOn.set(id, index);
          return new Promise<TaskOutcome<unknown>>((resolve) => {
            release.set(id, () => resolve({ status: 'succeeded', result: undefined }));
          });
        },
      ],
    ]);
  return { maps: [lane(0), lane(1)], ranOn, release };
}

describe('LocalPublisher', () => {
  it('never runs more than its concurrency, and a slot freed on a lane is refilled on that lane', async () => {
    const { maps, ranOn, release } = lanes();
    const engine = new Engine(redis, { namespace: randomNamespace() });
    const publisher = new LocalPublisher({ handlers: maps, concurrency: 4, engine });
    const ids = Array.from({ length: 8 }, (_, i) => `job-${i}`);
    await publisher.publish(ids.map(detail));
    await eventually(() => ranOn.size === 4);
    // The first four are spread over both lanes; the rest wait for a slot.
    expect([...ranOn.values()].sort()).toEqual([0, 0, 1, 1]);
    expect(publisher.capacity()).toBe(0); // 4 running and 4 queued: twice the concurrency

    // Both tasks of lane 1 finish: their successors start on lane 1, next to each other.
    const onLane1 = [...ranOn].filter(([, lane]) => lane === 1).map(([id]) => id);
    for (const id of onLane1) release.get(id)!();
    await eventually(() => ranOn.size === 6);
    expect(ranOn.get('job-4')).toBe(1);
    expect(ranOn.get('job-5')).toBe(1);

    for (const id of ids.slice(0, 6)) release.get(id)?.();
    await eventually(() => ranOn.size === 8);
    for (const id of ids.slice(6)) release.get(id)!();
    await publisher.close();
  });

  it('a handler that throws at once, or is missing, is an error outcome and frees its slot', async () => {
    const outcomes: Array<[string, string]> = [];
    const engine = new Engine(redis, { namespace: randomNamespace() });
    const throwing: WrappedHandler = () => {
      throw new Error('sync failure');
    };
    const publisher = new LocalPublisher({
      handlers: new Map([['work', throwing]]),
      concurrency: 1,
      engine,
      onOutcome: (task, outcome) => outcomes.push([task.id, outcome.status]),
    });
    await publisher.publish([detail('a'), { ...detail('b'), handler: 'nobody' }, detail('c')]);
    await eventually(() => outcomes.length === 3);
    expect(outcomes).toEqual([
      ['a', 'error'],
      ['b', 'error'],
      ['c', 'error'],
    ]);
    expect(publisher.capacity()).toBe(2);
    await publisher.close();
  });

  it('takes one map of handlers as one lane', async () => {
    const { maps, ranOn, release } = lanes();
    const engine = new Engine(redis, { namespace: randomNamespace() });
    const publisher = new LocalPublisher({ handlers: maps[0]!, concurrency: 2, engine });
    await publisher.publish([detail('a'), detail('b')]);
    await eventually(() => ranOn.size === 2);
    expect([...ranOn.values()]).toEqual([0, 0]);
    for (const id of ['a', 'b']) release.get(id)!();
    await publisher.close();
  });
});
