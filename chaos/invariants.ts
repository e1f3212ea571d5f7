/**
 * The invariants of a chaos run, checked from the append-only execution log, the invocation
 * log and what Redis holds after the drain. Every check is about what happened, never about how fast.
 */
import { Cron } from 'croner';
import type { ExecutionRecord, InvocationRecord } from './fleet.js';
import { HANDLERS } from './fleet.js';
import type { ChaosParams } from './params.js';
import type { DeadEntry, FinalState } from './state.js';
import { type ExpectedSeries, type ExpectedTask, expectedKey, type Workload } from './workload.js';

export interface Violation {
  readonly invariant: string;
  readonly detail: string;
}

export interface InvariantSummary {
  readonly violations: Violation[];
  /** Violations per invariant (all of them, even when the list above is capped). */
  readonly byInvariant: Record<string, number>;
  readonly occurrencesExpected: number;
  readonly occurrencesRun: number;
  readonly seriesOccurrences: number;
  readonly executions: number;
  readonly duplicateExecutions: number;
  /** Executions that started after an earlier one of the same key had done its effect but not completed its record. */
  readonly crashWindow: number;
  /** Effect writes that found the effect already there (the keyed write made them harmless). */
  readonly effectsSuppressed: number;
  readonly deadByReason: Record<string, number>;
  readonly deadByKind: Record<string, number>;
  readonly supersededChecked: number;
  /** Executions whose claim was checked live at start (see invariant 0). */
  readonly claimsCheckedAtStart: number;
}

const MAX_LISTED = 50;

function seriesOf(id: string): { series: string; occurrence: number } | undefined {
  const at = id.lastIndexOf('@');
  if (at < 0) return undefined;
  const occurrence = Number(id.slice(at + 1));
  return Number.isFinite(occurrence) ? { series: id.slice(0, at), occurrence } : undefined;
}

/** The first point of a series strictly after `t` (t at or after the occurrence `from`). */
function nextPoint(series: ExpectedSeries, from: number, t: number): number {
  if (series.everyMs !== undefined) {
    const e = series.everyMs;
    return from + e * (Math.floor((Math.max(t, from) - from) / e) + 1);
  }
  const cron = new Cron(series.cron!, { timezone: series.timezone ?? 'UTC', paused: true, mode: 'auto' });
  return cron.nextRun(new Date(Math.max(t, from)))!.getTime();
}

export function checkInvariants(
  params: ChaosParams,
  workload: Workload,
  executions: readonly ExecutionRecord[],
  invocations: readonly InvocationRecord[],
  final: FinalState,
  effects: ReadonlyMap<string, string | null>,
): InvariantSummary {
  const violations: Violation[] = [];
  const byInvariant: Record<string, number> = {};
  const violate = (invariant: string, detail: string) => {
    byInvariant[invariant] = (byInvariant[invariant] ?? 0) + 1;
    if (violations.length < MAX_LISTED) violations.push({ invariant, detail });
  };

  const execByKey = new Map<string, ExecutionRecord[]>();
  const execById = new Map<string, ExecutionRecord[]>();
  for (const e of executions) {
    const list = execByKey.get(e.key) ?? [];
    if (list.length === 0) execByKey.set(e.key, list);
    list.push(e);
    const byId = execById.get(e.id) ?? [];
    if (byId.length === 0) execById.set(e.id, byId);
    byId.push(e);
  }
  const invById = new Map<string, InvocationRecord[]>();
  const completedAt = new Map<string, number>();
  for (const inv of invocations) {
    const list = invById.get(inv.id) ?? [];
    if (list.length === 0) invById.set(inv.id, list);
    list.push(inv);
    if (inv.status === 'succeeded' && inv.end !== undefined) {
      completedAt.set(inv.key, Math.min(completedAt.get(inv.key) ?? Number.POSITIVE_INFINITY, inv.end));
    }
  }

  // 0. No handler start without a live claim: each execution's claim, read from the store right after the
  // wrapper's start fence, was the task's live claim. A claim may lapse legitimately between the fence and
  // that read only once its lease deadline has passed (requeue-expired then takes it), or once the
  // wrapper's own time-out has failed the attempt (a stalled event loop can fire it before the function's
  // first read returns); so a read after `leaseUntil − 1 s` (1 s for a tick clock running ahead) or after
  // the shorter time-out is not counted either way. The check is a cross-check from outside: the fence
  // itself is atomic with the idempotency record (idempotency-begin.lua).
  const timeoutMs = Math.min(params.handlerTimeoutMs, params.slowTimeoutMs);
  let claimsChecked = 0;
  for (const e of executions) {
    if (e.claimLive === undefined || e.claimCheckedAt === undefined || e.leaseUntil === undefined) continue;
    if (e.claimCheckedAt >= e.leaseUntil - 1000 || e.claimCheckedAt - e.start >= timeoutMs) continue;
    // An upsert of the key supersedes a claim at any time (after the fence too): not counted.
    if ((workload.tasks.get(e.id)?.superseded.length ?? 0) > 0) continue;
    claimsChecked++;
    if (!e.claimLive)
      violate(
        'no-start-without-live-claim',
        `${e.id} (attempt ${e.attempt}, ${e.handler}) started without its live claim: read ${e.claimCheckedAt - e.start} ms after start, ${e.claimSeen ?? ''}`,
      );
  }

  // 1. One idempotency key per occurrence: every execution and delivery of an id carries the expected key.
  const keyOwner = new Map<string, string>();
  const expectedKeysOf = (id: string): { keys: Set<string>; known: boolean } => {
    const task = workload.tasks.get(id);
    if (task) {
      const keys = new Set([expectedKey(id, task.runAt, task.revision)]);
      for (const s of task.superseded) if (s.upsertDoneAt >= s.runAt) keys.add(s.key);
      return { keys, known: true };
    }
    const occ = seriesOf(id);
    const series = occ && workload.series.get(occ.series);
    if (occ && series) {
      return { keys: new Set([expectedKey(occ.series, occ.occurrence, series.revision)]), known: true };
    }
    return { keys: new Set(), known: false };
  };
  for (const [id, list] of invById) {
    const { keys, known } = expectedKeysOf(id);
    if (!known) {
      violate('unknown-task', `${id} was delivered but never scheduled`);
      continue;
    }
    const seen = new Set(list.map((i) => i.key));
    for (const key of seen) {
      if (!keys.has(key))
        violate('one-key-per-occurrence', `${id} delivered with key ${key}, expected ${[...keys]}`);
      const owner = keyOwner.get(key);
      if (owner !== undefined && owner !== id)
        violate('one-key-per-occurrence', `key ${key} used by ${owner} and ${id}`);
      keyOwner.set(key, id);
    }
  }
  for (const [id, list] of execById) {
    const { keys } = expectedKeysOf(id);
    for (const e of list) {
      if (!keys.has(e.key)) violate('one-key-per-occurrence', `${id} executed with key ${e.key}`);
    }
  }

  // 2. No execution starts after a completed idempotency record exists for its key.
  for (const [key, list] of execByKey) {
    const done = completedAt.get(key);
    if (done === undefined) continue;
    for (const e of list) {
      if (e.start > done) {
        violate(
          'no-run-after-completed-record',
          `${e.id} (key ${key}) started at ${e.start}, after its record completed at ${done}`,
        );
      }
    }
  }

  // 3. Every occurrence that was not dead-lettered ran, and its keyed effect exists exactly once.
  const occurrences: Array<{ id: string; key: string; kind: string; task?: ExpectedTask }> = [];
  for (const task of workload.tasks.values()) {
    occurrences.push({
      id: task.id,
      key: expectedKey(task.id, task.runAt, task.revision),
      kind: task.kind,
      task,
    });
  }
  const firedBySeries = new Map<string, Set<number>>();
  const noteFired = (id: string) => {
    const occ = seriesOf(id);
    if (!occ || !workload.series.has(occ.series)) return;
    const set = firedBySeries.get(occ.series) ?? new Set<number>();
    if (set.size === 0) firedBySeries.set(occ.series, set);
    set.add(occ.occurrence);
  };
  for (const id of invById.keys()) noteFired(id);
  for (const id of execById.keys()) noteFired(id);
  for (const id of final.dead.keys()) noteFired(id);
  let seriesOccurrences = 0;
  for (const [seriesId, fired] of firedBySeries) {
    const series = workload.series.get(seriesId)!;
    for (const o of fired) {
      seriesOccurrences++;
      occurrences.push({
        id: `${seriesId}@${o}`,
        key: expectedKey(seriesId, o, series.revision),
        kind: series.kind,
      });
    }
  }
  let occurrencesRun = 0;
  for (const occ of occurrences) {
    const dead = final.dead.get(occ.id);
    const ran = execByKey.get(occ.key) ?? [];
    const writes = ran.filter((e) => e.effect === 'written').length;
    if (writes > 1)
      violate('effect-exactly-once', `${occ.id}: effect created ${writes} times (a lost write?)`);
    if (ran.length > 0) occurrencesRun++;
    if (dead) continue;
    if (occ.kind === 'poison' || occ.kind === 'expiring') {
      violate('dead-set-exact', `${occ.id} (${occ.kind}) always fails but is not in the dead set`);
      continue;
    }
    if (ran.length === 0) {
      violate('nothing-lost', `${occ.id} (${occ.kind}) never ran and is not dead`);
      continue;
    }
    if (!effects.get(occ.key)) violate('nothing-lost', `${occ.id} (${occ.kind}) ran but has no effect`);
  }

  // 4. Upserted before due: the old revision never ran.
  let supersededChecked = 0;
  for (const task of workload.tasks.values()) {
    for (const s of task.superseded) {
      if (s.upsertDoneAt >= s.runAt) continue;
      supersededChecked++;
      if (execByKey.has(s.key)) violate('upsert-replaces', `${task.id}: replaced revision ${s.key} ran`);
    }
  }

  // 5. Nothing left queued, in flight or waiting to be armed.
  for (const leftover of final.leftovers) violate('drained', leftover);

  // 6. The dead set holds exactly the tasks that exhausted maxAttempts or expired.
  const deadByReason: Record<string, number> = {};
  const deadByKind: Record<string, number> = {};
  for (const entry of final.dead.values()) {
    deadByReason[entry.reason] = (deadByReason[entry.reason] ?? 0) + 1;
    const task = workload.tasks.get(entry.id);
    const occ = seriesOf(entry.id);
    const series = workload.series.get(entry.id) ?? (occ ? workload.series.get(occ.series) : undefined);
    const kind =
      task?.kind ?? (series ? (workload.series.has(entry.id) ? `${series.kind}-series` : series.kind) : '?');
    deadByKind[kind] = (deadByKind[kind] ?? 0) + 1;
    if (!task && !series) {
      violate('dead-set-exact', `dead member ${entry.id} was never scheduled`);
      continue;
    }
    checkDeadEntry(entry, task, violate);
  }

  // 7. Recurring series: no gaps beyond the catch-up policy.
  const lateness = worstSeriesLateness(params, workload, firedBySeries, final.dead, invById, execById);
  for (const series of workload.series.values()) {
    checkSeries(
      params,
      series,
      firedBySeries.get(series.id),
      final.dead,
      invById,
      execById,
      lateness,
      violate,
    );
  }

  // Crash window: re-executions after an effect whose execution never completed its idempotency record.
  const completingSeq = new Set<number>();
  const invByInv = new Map(invocations.map((i) => [i.inv, i]));
  for (const e of executions) if (invByInv.get(e.inv)?.status === 'succeeded') completingSeq.add(e.seq);
  let crashWindow = 0;
  let effectsSuppressed = 0;
  for (const list of execByKey.values()) {
    for (const e of list) if (e.effect === 'exists') effectsSuppressed++;
    const openEffects = list.filter((e) => e.effectAt !== undefined && !completingSeq.has(e.seq));
    if (openEffects.length === 0) continue;
    for (const later of list) {
      if (openEffects.some((e) => e.seq !== later.seq && e.effectAt! <= later.start)) crashWindow++;
    }
  }

  return {
    violations,
    claimsCheckedAtStart: claimsChecked,
    byInvariant,
    occurrencesExpected: occurrences.length,
    occurrencesRun,
    seriesOccurrences,
    executions: executions.length,
    duplicateExecutions: executions.length - execByKey.size,
    crashWindow,
    effectsSuppressed,
    deadByReason,
    deadByKind,
    supersededChecked,
  };
}

function checkDeadEntry(
  entry: DeadEntry,
  task: ExpectedTask | undefined,
  violate: (invariant: string, detail: string) => void,
): void {
  if (entry.reason === 'expired') {
    if (entry.expiresAt === undefined)
      violate('dead-set-exact', `${entry.id} dead as expired without expiresAt`);
  } else if (entry.attempt < entry.maxAttempts) {
    violate(
      'dead-set-exact',
      `${entry.id} dead (${entry.reason}: ${entry.error}) after ${entry.attempt} of ${entry.maxAttempts} attempts`,
    );
  }
  if (task?.kind === 'poison' && !['error', 'lease-expired'].includes(entry.reason)) {
    violate('dead-set-exact', `poison ${entry.id} dead with reason ${entry.reason}`);
  }
  if (task?.kind === 'expiring' && entry.reason !== 'expired') {
    violate('dead-set-exact', `expiring ${entry.id} dead with reason ${entry.reason}, expected expired`);
  }
}

/**
 * Catch-up policy (ARCHITECTURE.md, "Recurring series"): an occurrence claimed at time t arms the first point of the series after t.
 * On time that is the next point; after an outage the missed occurrence fires once and the series goes on
 * from now. The claim time of occurrence o lies between o and the earliest trace of it (a delivery's
 * `leaseUntil − lease`, an execution start, its dead-lettering), so the next fired occurrence must lie between
 * the next points after those two bounds. The last one must leave no point at or before expiresAt unfired,
 * unless the tick may have reached that point only after expiresAt: then the series ends there without
 * running it (reason `series-expired`, nothing in dead, ARCHITECTURE.md "Recurring series"). The claim of a
 * point that did not run leaves no trace, so "may have" is judged by the run itself: the point lies within
 * the worst claim lateness seen on any fired occurrence of the run (`lateness`) before expiresAt.
 */
/** The earliest trace of an occurrence, which bounds its claim time from above (Infinity: no trace). */
function claimedBy(
  params: ChaosParams,
  series: ExpectedSeries,
  id: string,
  dead: ReadonlyMap<string, DeadEntry>,
  invById: ReadonlyMap<string, InvocationRecord[]>,
  execById: ReadonlyMap<string, ExecutionRecord[]>,
): number {
  const lease = series.handler === HANDLERS.slow ? params.slowLeaseMs : params.leaseMs;
  let upper = Number.POSITIVE_INFINITY;
  for (const inv of invById.get(id) ?? []) upper = Math.min(upper, inv.leaseUntil - lease);
  for (const e of execById.get(id) ?? []) upper = Math.min(upper, e.start);
  const d = dead.get(id);
  if (d) upper = Math.min(upper, d.failedAt);
  return upper;
}

/** The latest any fired series occurrence of the run was claimed after its point (a bound from its traces). */
function worstSeriesLateness(
  params: ChaosParams,
  workload: Workload,
  firedBySeries: ReadonlyMap<string, ReadonlySet<number>>,
  dead: ReadonlyMap<string, DeadEntry>,
  invById: ReadonlyMap<string, InvocationRecord[]>,
  execById: ReadonlyMap<string, ExecutionRecord[]>,
): number {
  let worst = 0;
  for (const series of workload.series.values()) {
    for (const o of firedBySeries.get(series.id) ?? []) {
      const upper = claimedBy(params, series, `${series.id}@${o}`, dead, invById, execById);
      if (Number.isFinite(upper)) worst = Math.max(worst, upper - o);
    }
  }
  return worst;
}

function checkSeries(
  params: ChaosParams,
  series: ExpectedSeries,
  fired: ReadonlySet<number> | undefined,
  dead: ReadonlyMap<string, DeadEntry>,
  invById: ReadonlyMap<string, InvocationRecord[]>,
  execById: ReadonlyMap<string, ExecutionRecord[]>,
  lateness: number,
  violate: (invariant: string, detail: string) => void,
): void {
  const occurrences = [...(fired ?? [])].sort((a, b) => a - b);
  const bodyDead = dead.get(series.id);
  if (bodyDead) {
    // A series never lands in dead itself: its occurrences do (failed, or claimed after expiresAt).
    violate('series-no-gap', `series ${series.id} is itself dead (reason ${bodyDead.reason})`);
  }
  const describe = `${series.kind} series ${series.id} (${series.everyMs ?? series.cron})`;
  if (occurrences.length === 0) {
    violate('series-no-gap', `${describe} never fired`);
    return;
  }
  if (occurrences[0] !== series.firstRunAt) {
    violate('series-no-gap', `${describe} first fired ${occurrences[0]}, expected ${series.firstRunAt}`);
  }
  for (let i = 0; i < occurrences.length; i++) {
    const o = occurrences[i]!;
    if (o > series.expiresAt)
      violate('series-no-gap', `${describe} fired ${o} after expiresAt ${series.expiresAt}`);
    const upper = claimedBy(params, series, `${series.id}@${o}`, dead, invById, execById);
    if (!Number.isFinite(upper)) {
      violate('series-no-gap', `${describe}: no trace of occurrence ${o}`);
      continue;
    }
    const earliest = nextPoint(series, o, o);
    const latest = nextPoint(series, o, upper);
    const next = occurrences[i + 1];
    if (next !== undefined) {
      if (next < earliest || next > latest) {
        violate(
          'series-no-gap',
          `${describe}: after ${o} (claimed by ${upper}) came ${next}; policy allows ${earliest}..${latest}`,
        );
      }
    } else if (
      earliest <= series.expiresAt &&
      latest <= series.expiresAt &&
      earliest + lateness <= series.expiresAt
    ) {
      // A point well before expiresAt should have been armed and fired.
      violate(
        'series-no-gap',
        `${describe} stopped after ${o}: the next point (${earliest}..${latest}) is before expiresAt ${series.expiresAt}`,
      );
    }
  }
}
