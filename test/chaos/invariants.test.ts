/**
 * The chaos checker must not be vacuous: each invariant is fed a log that breaks it (and one that keeps
 * it), without Redis or processes.
 */
import { describe, expect, it } from 'vitest';
import type { ExecutionRecord, InvocationRecord } from '../../chaos/fleet.js';
import { HANDLERS } from '../../chaos/fleet.js';
import { checkInvariants } from '../../chaos/invariants.js';
import { smallParams } from '../../chaos/params.js';
import type { DeadEntry, FinalState } from '../../chaos/state.js';
import { type ExpectedSeries, type ExpectedTask, expectedKey, type Workload } from '../../chaos/workload.js';

const T0 = 1_800_000_000_000;
const params = smallParams({ seed: 1 });

function task(id: string, extra: Partial<ExpectedTask> = {}): ExpectedTask {
  return {
    id,
    kind: 'oneoff',
    handler: HANDLERS.oneoff,
    runAt: T0,
    revision: 1,
    maxAttempts: 6,
    superseded: [],
    ...extra,
  };
}

function workload(tasks: ExpectedTask[], series: ExpectedSeries[] = []): Workload {
  return {
    tasks: new Map(tasks.map((t) => [t.id, t])),
    series: new Map(series.map((s) => [s.id, s])),
    start: T0,
    end: T0 + 60_000,
    submitted: tasks.length + series.length,
    scheduledInMs: 0,
    inBatchDuplicateKeys: 0,
    upserted: 0,
    upsertsLate: 0,
  };
}

class Log {
  readonly executions: ExecutionRecord[] = [];
  readonly invocations: InvocationRecord[] = [];
  readonly effects = new Map<string, string | null>();

  /** One delivery of `id` (claimed at `claimAt`) whose function runs at `start`. */
  run(
    id: string,
    key: string,
    options: {
      start?: number;
      claimAt?: number;
      status?: InvocationRecord['status'];
      effect?: boolean;
      end?: number;
      handler?: string;
      /** The claim's liveness as the fleet read it at start (absent: not read). */
      claimLive?: boolean;
    } = {},
  ): void {
    const start = options.start ?? T0 + 10;
    const claimAt = options.claimAt ?? start - 5;
    const status = options.status ?? 'succeeded';
    const effect = options.effect ?? true;
    const end = options.end ?? start + 5;
    const handler = options.handler ?? HANDLERS.oneoff;
    const inv = this.invocations.length;
    this.invocations.push({
      inv,
      id,
      handler,
      key,
      attempt: 1,
      claimToken: `t${inv}`,
      shard: 0,
      leaseUntil: claimAt + params.leaseMs,
      duplicate: false,
      acceptedAt: start,
      start,
      status,
      end,
    });
    this.executions.push({
      seq: this.executions.length,
      inv,
      id,
      handler,
      key,
      attempt: 1,
      start,
      behaviour: 'ok',
      ...(effect ? { effect: this.effects.get(key) ? 'exists' : 'written', effectAt: start + 1 } : {}),
      end,
      ...(options.claimLive !== undefined
        ? { claimLive: options.claimLive, claimCheckedAt: start, leaseUntil: claimAt + params.leaseMs }
        : {}),
    });
    if (effect && !this.effects.get(key)) this.effects.set(key, String(this.executions.length - 1));
  }
}

function final(dead: DeadEntry[] = [], leftovers: string[] = []): FinalState {
  return { dead: new Map(dead.map((d) => [d.id, d])), leftovers };
}

function check(w: Workload, log: Log, state = final()) {
  return checkInvariants(params, w, log.executions, log.invocations, state, log.effects);
}

describe('chaos invariants checker', () => {
  it('flags a start whose claim was not live before its lease deadline; ignores reads after it', () => {
    const w = workload([task('a'), task('b')]);
    const log = new Log();
    log.run('a', expectedKey('a', T0, 1), { claimLive: false });
    // Read after the lease deadline: the claim may have lapsed legitimately.
    log.run('b', expectedKey('b', T0, 1), {
      claimLive: false,
      claimAt: T0 + 5,
      start: T0 + 10 + params.leaseMs,
    });
    const summary = check(w, log);
    expect(summary.byInvariant['no-start-without-live-claim']).toBe(1);
    expect(summary.violations[0]).toMatchObject({ invariant: 'no-start-without-live-claim' });
    expect(summary.claimsCheckedAtStart).toBe(1);
  });

  it('passes a clean log', () => {
    const w = workload([task('a'), task('b')]);
    const log = new Log();
    log.run('a', expectedKey('a', T0, 1));
    log.run('b', expectedKey('b', T0, 1));
    expect(check(w, log).violations).toEqual([]);
  });

  it('flags a task that never ran and is not dead, and one that ran without its effect', () => {
    const w = workload([task('a'), task('b')]);
    const log = new Log();
    log.run('b', expectedKey('b', T0, 1), { effect: false });
    const result = check(w, log);
    expect(result.byInvariant['nothing-lost']).toBe(2);
  });

  it('flags a second idempotency key for one occurrence', () => {
    const w = workload([task('a')]);
    const log = new Log();
    log.run('a', expectedKey('a', T0, 1));
    log.run('a', expectedKey('a', T0, 2), { start: T0 + 20 });
    expect(check(w, log).byInvariant['one-key-per-occurrence']).toBeGreaterThan(0);
  });

  it('flags an execution that starts after a completed record, and counts the crash window', () => {
    const w = workload([task('a'), task('b')]);
    const log = new Log();
    const a = expectedKey('a', T0, 1);
    log.run('a', a, { start: T0 + 10, end: T0 + 20 });
    log.run('a', a, { start: T0 + 30 });
    // b: effect written, then the execution failed before its record; a retry runs it again.
    const b = expectedKey('b', T0, 1);
    log.run('b', b, { start: T0 + 10, status: 'retrying' });
    log.run('b', b, { start: T0 + 40 });
    const result = check(w, log);
    expect(result.byInvariant['no-run-after-completed-record']).toBe(1);
    expect(result.crashWindow).toBe(1);
    expect(result.effectsSuppressed).toBe(2);
  });

  it('flags an effect created twice (a lost write)', () => {
    const w = workload([task('a')]);
    const log = new Log();
    const a = expectedKey('a', T0, 1);
    log.run('a', a, { status: 'retrying' });
    log.effects.delete(a);
    log.run('a', a, { start: T0 + 40 });
    expect(check(w, log).byInvariant['effect-exactly-once']).toBe(1);
  });

  it('flags a superseded revision that ran although the upsert came before it was due', () => {
    const old = expectedKey('a', T0, 1);
    const w = workload([
      task('a', {
        runAt: T0 + 5_000,
        revision: 2,
        superseded: [{ key: old, runAt: T0, upsertDoneAt: T0 - 1 }],
      }),
    ]);
    const log = new Log();
    log.run('a', old);
    log.run('a', expectedKey('a', T0 + 5_000, 2), { start: T0 + 5_010 });
    const result = check(w, log);
    expect(result.byInvariant['upsert-replaces']).toBe(1);
  });

  it('checks the dead set: exhausted or expired only, poison and expiring always', () => {
    const w = workload([
      task('early', { maxAttempts: 6 }),
      task('poison', { kind: 'poison', handler: HANDLERS.poison, maxAttempts: 2 }),
      task('expiring', { kind: 'expiring', handler: HANDLERS.expiring, expiresAt: T0 + 1_000 }),
    ]);
    const log = new Log();
    const dead: DeadEntry[] = [
      { id: 'early', failedAt: T0, attempt: 2, reason: 'error', error: 'x', maxAttempts: 6 },
      { id: 'poison', failedAt: T0, attempt: 2, reason: 'error', error: 'x', maxAttempts: 2 },
    ];
    const result = check(w, log, final(dead));
    expect(result.byInvariant['dead-set-exact']).toBe(2); // 'early' not exhausted; 'expiring' missing
    expect(result.deadByReason).toEqual({ error: 2 });
  });

  it('flags anything left after the drain', () => {
    const w = workload([]);
    expect(check(w, new Log(), final([], ['inflight:x holds 1'])).byInvariant.drained).toBe(1);
  });

  describe('recurring series', () => {
    const every: ExpectedSeries = {
      id: 'S',
      kind: 'every',
      handler: HANDLERS.every,
      everyMs: 1_000,
      firstRunAt: T0,
      revision: 7,
      expiresAt: T0 + 4_500,
      maxAttempts: 6,
    };
    const fire = (log: Log, o: number, claimAt = o + 5) =>
      log.run(`S@${o}`, expectedKey('S', o, 7), { start: claimAt + 5, claimAt, handler: HANDLERS.every });

    it('accepts every point on time', () => {
      const log = new Log();
      for (const o of [0, 1, 2, 3, 4]) fire(log, T0 + o * 1_000);
      expect(check(workload([], [every]), log).violations).toEqual([]);
    });

    it('accepts the catch-up policy: a late claim fires the missed point once, then goes on from then', () => {
      const log = new Log();
      fire(log, T0);
      fire(log, T0 + 1_000, T0 + 3_200); // claimed 2.2 s late: 2 s and 3 s are skipped
      fire(log, T0 + 4_000);
      expect(check(workload([], [every]), log).violations).toEqual([]);
    });

    it('flags a gap the policy does not allow, and a series that stops early', () => {
      const log = new Log();
      fire(log, T0);
      fire(log, T0 + 2_000); // 1 s was due after a claim on time
      const result = check(workload([], [every]), log);
      expect(result.byInvariant['series-no-gap']).toBe(2); // the gap, and nothing after 2 s
    });

    /** A dead entry of reason `expired` for the 4 s point, claimed at 4.6 s (after expiresAt). */
    const expiredAt4s = (id: string): DeadEntry => ({
      id,
      failedAt: T0 + 4_600,
      attempt: 0,
      reason: 'expired',
      error: '',
      maxAttempts: 6,
      expiresAt: every.expiresAt,
      runAt: T0 + 4_000,
    });

    it('accepts a series whose armed point was claimed after expiresAt (its occurrence is dead as expired)', () => {
      const log = new Log();
      for (const o of [0, 1, 2, 3]) fire(log, T0 + o * 1_000);
      expect(check(workload([], [every]), log, final([expiredAt4s(`S@${T0 + 4_000}`)])).violations).toEqual(
        [],
      );
    });

    it('rejects a series that stopped before expiresAt without a trace, and a series body in dead', () => {
      const log = new Log();
      for (const o of [0, 1, 2, 3]) fire(log, T0 + o * 1_000);
      // The 4 s point was due before expiresAt and left no trace: a gap.
      expect(check(workload([], [every]), log).byInvariant['series-no-gap']).toBe(1);
      // A series never lands in dead itself (only its occurrences do).
      expect(
        check(workload([], [every]), log, final([expiredAt4s('S')])).violations.map((v) => v.detail),
      ).toContainEqual('series S is itself dead (reason expired)');
    });

    it('checks cron series against their own schedule', () => {
      const cron: ExpectedSeries = {
        id: 'C',
        kind: 'cron',
        handler: HANDLERS.cron,
        cron: '*/2 * * * * *',
        timezone: 'UTC',
        firstRunAt: T0,
        revision: 3,
        expiresAt: T0 + 5_000,
        maxAttempts: 6,
      };
      const log = new Log();
      const fireCron = (o: number) =>
        log.run(`C@${o}`, expectedKey('C', o, 3), { start: o + 10, claimAt: o + 5, handler: HANDLERS.cron });
      fireCron(T0);
      fireCron(T0 + 4_000); // T0 + 2 s skipped
      expect(check(workload([], [cron]), log).byInvariant['series-no-gap']).toBe(1);
    });
  });
});
