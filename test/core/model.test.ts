/**
 * Model-based test (issue 2, item 12): random sequences of schedule / promote+claim / ack / fail /
 * requeueExpired / cancel / clock steps against a small in-memory model. After every step, each job's
 * state and attempt (Scheduler.get) and the stats counts must match the model. Some jobs are due minutes
 * ahead, so they park (parkAfterMs at its 3-minute minimum); every clock step moves due parking slots as
 * a running tick would, and the parked count must equal the jobs `get` reports parked. A `start` step
 * begins a delivery of any claim ever made (cancel racing claim and start): the start fence lets only the
 * task's live claim start.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { TaskRef } from '../../src/core/engine.js';
import { KeyHandlerConflictError } from '../../src/errors.js';
import { randomNamespace, redisUrl } from '../support/context.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const HANDLERS = ['h1', 'h2'] as const;
const LEASE_MS = 1500;
const STEP_MS = 1000; // the default aging step
const BACKOFF = { type: 'exponential', delayMs: 1000, maxDelayMs: 4000 } as const;
const PARK_AFTER_MS = 180_000;

type Handler = (typeof HANDLERS)[number];

interface ModelJob {
  readonly id: string;
  readonly handler: Handler;
  key: string | undefined;
  state: 'waiting' | 'inflight' | 'dead';
  /** Due time while waiting (delayed score, or when it entered ready). */
  queuedAt: number;
  priority: number;
  attempt: number;
  maxAttempts: number;
  token: string | undefined;
  leaseUntil: number;
}

type Op =
  | {
      t: 'schedule';
      handler: Handler;
      delay: number;
      key: string | undefined;
      priority: number;
      maxAttempts: number;
    }
  | { t: 'advance'; ms: number }
  | { t: 'leap'; ms: number }
  | { t: 'claim'; limit: number }
  | { t: 'ack'; pick: number }
  | { t: 'fail'; pick: number }
  | { t: 'requeue' }
  | { t: 'cancel'; pick: number; byKey: boolean }
  | { t: 'start'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('schedule' as const),
      handler: fc.constantFrom(...HANDLERS),
      delay: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 4 }).map((x) => x * 500) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((x) => PARK_AFTER_MS + x * 61_000) },
      ),
      key: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: fc.constantFrom('k1', 'k2', 'k3') },
      ),
      priority: fc.constantFrom(0, 0, 2),
      maxAttempts: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 8 }).map((x) => x * 250),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('leap' as const),
      ms: fc.integer({ min: 1, max: 8 }).map((x) => x * 30_000),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('claim' as const), limit: fc.integer({ min: 1, max: 2 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ack' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('fail' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('requeue' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('cancel' as const), pick: fc.nat(), byKey: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('start' as const), pick: fc.nat() }),
  },
);

const rankOf = (job: ModelJob) => job.queuedAt - job.priority * STEP_MS;

describe('engine against a model', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl(), { maxRetriesPerRequest: null, enableAutoPipelining: true });
  });
  afterAll(async () => {
    await redis.quit();
  });

  async function run(ops: readonly Op[]): Promise<void> {
    let now = T0;
    const tasks = new Scheduler({
      redis,
      namespace: randomNamespace('m'),
      now: () => now,
      parkAfterMs: PARK_AFTER_MS,
    });
    const e = tasks.engine;
    const jobs = new Map<string, ModelJob>();
    const keyToId = new Map<string, string>();
    const everId = new Set<string>();
    const claims: TaskRef[] = [];

    const liveByRef = (ref: TaskRef) => {
      const job = jobs.get(ref.id);
      if (!job) return { job, outcome: 'missing' as const };
      if (job.state !== 'inflight' || job.token !== ref.claimToken) return { job, outcome: 'stale' as const };
      return { job, outcome: 'current' as const };
    };
    const remove = (job: ModelJob) => {
      jobs.delete(job.id);
      if (job.key !== undefined && keyToId.get(job.key) === job.id) keyToId.delete(job.key);
    };

    for (const [step, op] of ops.entries()) {
      const where = `step ${step}: ${JSON.stringify(op)}`;
      switch (op.t) {
        case 'advance':
        case 'leap':
          now += op.ms;
          // What a running tick does on every pass: slots that start within 2 min move into delayed.
          await e.advanceParked(0, [...HANDLERS], now);
          break;
        case 'schedule': {
          const existing = op.key !== undefined ? jobs.get(keyToId.get(op.key) ?? '') : undefined;
          const options = {
            handler: op.handler,
            delayMs: op.delay,
            priority: op.priority,
            maxAttempts: op.maxAttempts,
            backoff: BACKOFF,
            ...(op.key !== undefined ? { key: op.key } : {}),
          };
          if (existing && existing.handler !== op.handler) {
            await expect(tasks.schedule(options), where).rejects.toBeInstanceOf(KeyHandlerConflictError);
            break;
          }
          const { id } = await tasks.schedule(options);
          const fields = {
            state: 'waiting' as const,
            queuedAt: now + op.delay,
            priority: op.priority,
            attempt: 0,
            maxAttempts: op.maxAttempts,
            token: undefined,
            leaseUntil: 0,
          };
          if (existing) {
            expect(id, where).toBe(existing.id);
            Object.assign(existing, fields);
          } else {
            expect(jobs.has(id), where).toBe(false);
            jobs.set(id, { id, handler: op.handler, key: op.key, ...fields });
            everId.add(id);
            if (op.key !== undefined) keyToId.set(op.key, id);
          }
          break;
        }
        case 'claim': {
          const expected: string[] = [];
          for (const h of HANDLERS) {
            const ready = [...jobs.values()]
              .filter((j) => j.handler === h && j.state === 'waiting' && j.queuedAt <= now)
              .sort((a, b) => rankOf(a) - rankOf(b) || (a.id < b.id ? -1 : 1))
              .slice(0, op.limit);
            expected.push(...ready.map((j) => j.id));
          }
          await e.promote(0, [...HANDLERS], now, 1000);
          const { tasks: claimed } = await e.claim(
            0,
            HANDLERS.map((handler) => ({ handler, limit: op.limit, leaseMs: LEASE_MS })),
            now,
          );
          expect(
            claimed.map((t) => t.id),
            where,
          ).toEqual(expected);
          for (const t of claimed) {
            const job = jobs.get(t.id)!;
            job.attempt += 1;
            job.state = 'inflight';
            job.token = t.claimToken;
            job.leaseUntil = now + LEASE_MS;
            expect(t.attempt, where).toBe(job.attempt);
            claims.push(t);
          }
          break;
        }
        case 'ack': {
          if (claims.length === 0) break;
          const ref = claims[op.pick % claims.length]!;
          const { job, outcome } = liveByRef(ref);
          const result = await e.ack(ref);
          expect(result, where).toBe(outcome === 'current' ? 'acked' : outcome);
          if (outcome === 'current') remove(job!);
          break;
        }
        case 'fail': {
          if (claims.length === 0) break;
          const ref = claims[op.pick % claims.length]!;
          const { job, outcome } = liveByRef(ref);
          const result = await e.fail(ref, { message: `fail at ${step}` }, now);
          if (outcome !== 'current') {
            expect(result.outcome, where).toBe(outcome);
            break;
          }
          const j = job!;
          j.token = undefined;
          if (j.attempt >= j.maxAttempts) {
            expect(result, where).toEqual({ outcome: 'dead', attempt: j.attempt });
            j.state = 'dead';
          } else {
            const retryAt = now + Math.min(BACKOFF.delayMs * 2 ** (j.attempt - 1), BACKOFF.maxDelayMs);
            expect(result, where).toEqual({ outcome: 'retry', attempt: j.attempt, retryAt });
            j.state = 'waiting';
            j.queuedAt = retryAt;
          }
          break;
        }
        case 'requeue': {
          let requeued = 0;
          let dead = 0;
          for (const j of jobs.values()) {
            if (j.state !== 'inflight' || j.leaseUntil > now) continue;
            j.token = undefined;
            if (j.attempt >= j.maxAttempts) {
              j.state = 'dead';
              dead++;
            } else {
              j.state = 'waiting';
              j.queuedAt = now;
              requeued++;
            }
          }
          expect(await e.requeueExpired(0, [...HANDLERS], now, 1000), where).toEqual({ requeued, dead });
          break;
        }
        case 'start': {
          // A delivery of any claim ever made begins (the wrapper's begin step, with a record key of its
          // own so only the start fence decides): it starts only when it is the task's live claim;
          // a cancelled or finished task's is `cancelled`, an older claim of a live task `superseded`.
          if (claims.length === 0) break;
          const ref = claims[op.pick % claims.length]!;
          const { outcome } = liveByRef(ref);
          const [begun] = await e.beginExecutions(
            0,
            ref.handler,
            [
              {
                id: ref.id,
                claimToken: ref.claimToken,
                recordKey: `${e.keys(0).idempotencyPrefix}#model-${step}`,
              },
            ],
            '{"status":"INPROGRESS"}',
            now,
            60,
          );
          expect(begun, where).toEqual(
            outcome === 'current'
              ? { status: 'started' }
              : { status: 'stale', reason: outcome === 'missing' ? 'cancelled' : 'superseded' },
          );
          break;
        }
        case 'cancel': {
          const refs = op.byKey ? ['k1', 'k2', 'k3'] : [...everId];
          if (refs.length === 0) break;
          const ref = refs[op.pick % refs.length]!;
          const job = jobs.get(ref) ?? jobs.get(keyToId.get(ref) ?? '');
          expect(await tasks.cancel(ref), where).toBe(job !== undefined);
          if (job) remove(job);
          break;
        }
      }

      // Compare every job and the counts with the model.
      const ids = [...everId];
      const infos = await Promise.all(ids.map((id) => tasks.get(id)));
      const seen = ids.map((id, i) => {
        const info = infos[i];
        return info ? { id, state: info.state, attempt: info.attempt } : { id, state: 'gone', attempt: 0 };
      });
      const modelled = ids.map((id) => {
        const j = jobs.get(id);
        if (!j) return { id, state: 'gone', attempt: 0 };
        const state = j.state === 'waiting' ? (j.queuedAt <= now ? 'due' : 'scheduled') : j.state;
        return { id, state, attempt: j.attempt };
      });
      expect(seen, where).toEqual(modelled);
      for (const h of HANDLERS) {
        const parked = infos.filter((info) => info?.parked && info.handler === h).length;
        expect(Number((await redis.hget(e.keys(0).parkedCount, h)) ?? 0), `${where}, parked ${h}`).toBe(
          parked,
        );
      }
      for (const key of ['k1', 'k2', 'k3']) {
        const id = keyToId.get(key);
        expect((await tasks.get(key))?.id, `${where}, key ${key}`).toBe(
          id !== undefined && jobs.has(id) ? id : undefined,
        );
      }
      const all = [...jobs.values()];
      const due = all.filter((j) => j.state === 'waiting' && j.queuedAt <= now);
      const stats = await tasks.stats();
      expect(
        {
          scheduled: stats.scheduled,
          due: stats.due,
          inflight: stats.inflight,
          dead: stats.dead,
          oldestDueAgeMs: stats.oldestDueAgeMs,
        },
        where,
      ).toEqual({
        scheduled: all.filter((j) => j.state === 'waiting' && j.queuedAt > now).length,
        due: due.length,
        inflight: all.filter((j) => j.state === 'inflight').length,
        dead: all.filter((j) => j.state === 'dead').length,
        oldestDueAgeMs: due.length === 0 ? 0 : now - Math.min(...due.map((j) => j.queuedAt)),
      });
    }
  }

  it('matches the model over 100 random op sequences (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' }), (ops) => run(ops)),
      { numRuns: 100, seed: 20_260_601 },
    );
  });
});
