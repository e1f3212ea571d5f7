/**
 * Malformed EventBridge events sent to `taskHandler`: a clear, typed error (`TicksetMalformedEventError`
 * naming the field), the user function never called, and no ack or fail of any task (Redis unchanged).
 * Well-formed events that do not match a live claim (another task's token, a made-up token) cannot ack
 * some other task either: the claim token fences them.
 */
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { MalformedEventError, TicksetError } from '../../src/errors.js';
import { taskHandler } from '../../src/handler/task-handler.js';
import type { TicksetLogger } from '../../src/observability/logger.js';
import { InMemoryMetrics } from '../../src/observability/metrics.js';
import { newClient, randomNamespace, snapshotNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const SECRET = 'payload-secret-7f3a';

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

async function twoClaimedTasks(): Promise<{ scheduler: Scheduler; a: TaskEventDetail; b: TaskEventDetail }> {
  const now = Date.now();
  const scheduler = new Scheduler({ redis, namespace: randomNamespace('fuzz'), now: () => now });
  await scheduler.scheduleMany([
    { handler: 'work', at: now, payload: { secret: SECRET, n: 'a' } },
    { handler: 'work', at: now, payload: { secret: SECRET, n: 'b' } },
  ]);
  const { tasks } = await promoteClaim(scheduler.engine, [spec('work', 10, { leaseMs: 600_000 })], now);
  expect(tasks).toHaveLength(2);
  return { scheduler, a: tasks[0]!, b: tasks[1]! };
}

function logSink(): { logger: TicksetLogger; lines: string[] } {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) => {
      lines.push(`${level} ${String(message)} ${JSON.stringify(rest)}`);
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** Values that fail each field of the detail schema. */
const BAD_VALUES: Record<string, readonly unknown[]> = {
  v: [0, 2, '1', null, true],
  id: ['', 7, null, {}, 'i'.repeat(2049)],
  handler: ['', 1, null, [], 'h'.repeat(65)],
  attempt: [0, -1, 1.5, '1', Number.NaN, null, Number.POSITIVE_INFINITY],
  idempotencyKey: ['', 3, null, {}, 'k'.repeat(4097)],
  scheduledFor: ['yesterday', '2026-13-01T00:00:00Z', 1_800_000_000_000, null, ''],
  claimToken: ['', 5, null, 't'.repeat(257)],
  namespace: ['', 9, null, 'n'.repeat(65)],
  shard: [-1, 0.5, '0', null, Number.NaN],
  leaseUntil: ['soon', null, {}, Number.NaN],
};
const FIELDS = Object.keys(BAD_VALUES);

/** An event that is malformed for sure: a removed or wrong-typed required field, or not an event at all. */
function malformedEvent(a: TaskEventDetail) {
  const broken = fc
    .record({
      field: fc.constantFrom(...FIELDS),
      mode: fc.constantFrom('remove', 'replace'),
      pick: fc.nat(),
      wrap: fc.constantFrom('eventbridge', 'bare'),
      extra: fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'x', 'detail-type'), fc.jsonValue(), {
        maxKeys: 2,
      }),
    })
    .map(({ field, mode, pick, wrap, extra }) => {
      const detail: Record<string, unknown> = { ...a, ...extra };
      const values = BAD_VALUES[field]!;
      if (mode === 'remove') delete detail[field];
      else detail[field] = values[pick % values.length];
      return wrap === 'bare'
        ? detail
        : { version: '0', source: 'tickset', 'detail-type': 'tickset.task', detail };
    });
  const notAnEvent = fc.constantFrom<unknown>(
    null,
    undefined,
    42,
    'tickset',
    [],
    [a],
    { detail: null },
    { detail: 'x' },
    { detail: JSON.stringify(a) },
    { detail: [] },
    { detail: {} },
    JSON.parse('{"__proto__":{"id":"x"}}'),
  );
  return fc.oneof(broken, notAnEvent);
}

describe('taskHandler with malformed events', () => {
  it('throws TicksetMalformedEventError naming the field, never runs the function, changes nothing', async () => {
    const { scheduler, a } = await twoClaimedTasks();
    const { logger, lines } = logSink();
    let calls = 0;
    const handle = taskHandler(
      () => {
        calls++;
        return 'ran';
      },
      { engine: scheduler.engine, handler: 'work', logger, metrics: new InMemoryMetrics() },
    );
    const before = await snapshotNamespace(redis, scheduler.engine.namespace);
    await fc.assert(
      fc.asyncProperty(malformedEvent(a), async (event) => {
        const error = await handle(event).then(
          (outcome) => new Error(`accepted: ${JSON.stringify(outcome)}`),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(MalformedEventError);
        expect(error).toBeInstanceOf(TicksetError);
        const e = error as MalformedEventError;
        expect(e.name).toBe('TicksetMalformedEventError');
        expect(e.field).toMatch(/^(event|detail)/);
        expect(e.message).toContain('Malformed task event');
      }),
      { numRuns: 300 },
    );
    expect(calls).toBe(0);
    expect(await snapshotNamespace(redis, scheduler.engine.namespace)).toEqual(before);
    // The errors were logged, and never with the payload.
    expect(lines.some((l) => l.startsWith('error malformed task event'))).toBe(true);
    expect(lines.filter((l) => l.includes(SECRET))).toEqual([]);
  });

  it('a well-formed event without a live claim acks nothing: not its task, not another', async () => {
    const { scheduler, a, b } = await twoClaimedTasks();
    const engine = scheduler.engine;
    const handle = taskHandler(() => 'ran', {
      engine,
      handler: 'work',
      logger: logSink().logger,
      metrics: new InMemoryMetrics(),
    });
    const k = engine.keys(0);
    const claims = async () => ({
      inflight: await redis.zrange(k.inflight('work'), 0, -1),
      state: await redis.hgetall(k.state),
    });
    const before = await claims();
    expect(before.inflight.sort()).toEqual([a.id, b.id].sort());
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 40 }).map((token) => ({ ...a, claimToken: token })),
          fc.constant({ ...b, claimToken: a.claimToken }),
          fc.constant({ ...a, id: b.id }),
          fc.constant({ ...a, id: `${a.id}@0` }),
          fc.constant({ ...a, shard: 0, handler: 'other', claimToken: 'x' }),
        ),
        async (detail) => {
          fc.pre(!(detail.id === a.id && detail.claimToken === a.claimToken));
          fc.pre(!(detail.id === b.id && detail.claimToken === b.claimToken));
          const outcome = await handle({ detail });
          expect(['stale', 'duplicate', 'dead', 'in-progress']).toContain(outcome.status);
          expect(await claims()).toEqual(before);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('an event of another namespace is rejected before anything runs', async () => {
    const { scheduler, a } = await twoClaimedTasks();
    const other = new Scheduler({ redis, namespace: randomNamespace('fuzz') });
    let calls = 0;
    const handle = taskHandler(
      () => {
        calls++;
      },
      { engine: other.engine, handler: 'work', logger: logSink().logger, metrics: new InMemoryMetrics() },
    );
    const before = await snapshotNamespace(redis, scheduler.engine.namespace);
    await expect(handle({ detail: a })).rejects.toMatchObject({
      name: 'TicksetMalformedEventError',
      field: 'detail.namespace',
    });
    expect(calls).toBe(0);
    expect(await snapshotNamespace(redis, scheduler.engine.namespace)).toEqual(before);
  });
});
