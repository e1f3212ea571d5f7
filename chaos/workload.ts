/**
 * The chaos workload: what is scheduled, and what the run must therefore observe.
 *
 * Kinds: one-off (`chaos.oneoff`, plus a few `chaos.slow`), keyed (`chaos.keyed`, some keys twice in one
 * batch, some upserted again mid-run), poison (always fails: must end dead after maxAttempts), expiring
 * (always fails and expires before its retry: must end dead with reason `expired`), interval series and cron
 * series with a seconds field (ending at the window's end).
 */
import type { Scheduler } from '../src/client/scheduler.js';
import type { ScheduleOptions } from '../src/core/prepare.js';
import type { JsonValue } from '../src/core/types.js';
import { HANDLERS } from './fleet.js';
import type { ChaosParams } from './params.js';

export type TaskKind = 'oneoff' | 'slow' | 'keyed' | 'poison' | 'expiring';

export interface ExpectedTask {
  readonly id: string;
  readonly kind: TaskKind;
  readonly handler: string;
  runAt: number;
  revision: number;
  readonly maxAttempts: number;
  readonly expiresAt?: number;
  readonly userKey?: string;
  /**
   * Revisions replaced by an upsert. One replaced before it was due (`upsertDoneAt < runAt`) must never run;
   * one replaced later may have.
   */
  readonly superseded: { key: string; runAt: number; upsertDoneAt: number }[];
}

export interface ExpectedSeries {
  readonly id: string;
  readonly kind: 'every' | 'cron';
  readonly handler: string;
  readonly everyMs?: number;
  readonly cron?: string;
  readonly timezone?: string;
  readonly firstRunAt: number;
  readonly revision: number;
  readonly expiresAt: number;
  readonly maxAttempts: number;
}

export interface Workload {
  readonly tasks: Map<string, ExpectedTask>;
  readonly series: Map<string, ExpectedSeries>;
  /** First and last due time of the one-off and keyed tasks. */
  readonly start: number;
  readonly end: number;
  /** schedule options submitted, in-batch duplicate keys included */
  submitted: number;
  /** How long scheduling took (ms). */
  scheduledInMs: number;
  inBatchDuplicateKeys: number;
  upserted: number;
  upsertsLate: number;
}

/**
 * The idempotency key tickset derives for an occurrence (ARCHITECTURE.md, "The job body"): id +
 * occurrence time + revision.
 */
export function expectedKey(id: string, occurrence: number, revision: number): string {
  return `${id}:${occurrence}:${revision}`;
}

const CRON_SPECS: readonly { cron: string; timezone: string }[] = [
  { cron: '*/2 * * * * *', timezone: 'UTC' },
  { cron: '*/3 * * * * *', timezone: 'Europe/Berlin' },
  { cron: '*/5 * * * * *', timezone: 'America/New_York' },
  { cron: '1,4,9,15,22,30,41,50 * * * * *', timezone: 'Asia/Kolkata' },
];
const EVERY_MS = [1_000, 1_500, 2_000, 3_000, 5_000];
const BACKOFF = { type: 'exponential', delayMs: 300, maxDelayMs: 3_000 } as const;
const BATCH = 1_000;

interface Planned {
  readonly options: ScheduleOptions;
  readonly kind: TaskKind | 'every' | 'cron';
}

export async function scheduleWorkload(
  scheduler: Scheduler,
  params: ChaosParams,
  random: () => number,
  now: number,
): Promise<Workload> {
  const start = now + params.startDelayMs;
  const end = start + params.windowMs;
  const plain = params.tasks - params.intervalSeries - params.cronSeries;
  const at = () => Math.floor(start + random() * params.windowMs);
  const payload = (i: number, extra: Record<string, JsonValue> = {}): JsonValue => ({
    i,
    text: `task ${i} ✓`,
    ...extra,
  });

  const planned: Planned[] = [];
  for (let i = 0; i < plain; i++) {
    const r = random();
    if (r < 0.005) {
      planned.push({
        kind: 'poison',
        options: {
          handler: HANDLERS.poison,
          payload: payload(i),
          at: at(),
          maxAttempts: 2,
          backoff: { type: 'fixed', delayMs: 100 },
        },
      });
    } else if (r < 0.01) {
      const due = at();
      planned.push({
        kind: 'expiring',
        options: {
          handler: HANDLERS.expiring,
          payload: payload(i),
          at: due,
          expiresAt: due + 1_000,
          maxAttempts: 5,
          backoff: { type: 'fixed', delayMs: 3_000 },
        },
      });
    } else if (r < 0.03) {
      planned.push({
        kind: 'slow',
        options: { handler: HANDLERS.slow, payload: payload(i), at: at(), maxAttempts: 10, backoff: BACKOFF },
      });
    } else if (r < 0.33) {
      planned.push({
        kind: 'keyed',
        options: {
          handler: HANDLERS.keyed,
          key: `key-${i}`,
          payload: payload(i, { rev: 1 }),
          at: at(),
          maxAttempts: 6,
          backoff: BACKOFF,
          ...(random() < 0.2 ? { priority: Math.floor(random() * 10) } : {}),
        },
      });
    } else {
      planned.push({
        kind: 'oneoff',
        options: {
          handler: HANDLERS.oneoff,
          payload: payload(i),
          at: at(),
          maxAttempts: 6,
          backoff: BACKOFF,
        },
      });
    }
  }
  // Series go first, in their own batch, so that a slow scheduling phase cannot push their first
  // occurrence past their expiresAt (the window's end).
  const series: Planned[] = [];
  for (let s = 0; s < params.intervalSeries; s++) {
    series.push({
      kind: 'every',
      options: {
        handler: HANDLERS.every,
        payload: { series: s },
        everyMs: EVERY_MS[s % EVERY_MS.length]!,
        expiresAt: end,
        maxAttempts: 6,
        backoff: BACKOFF,
      },
    });
  }
  for (let s = 0; s < params.cronSeries; s++) {
    const spec = CRON_SPECS[s % CRON_SPECS.length]!;
    series.push({
      kind: 'cron',
      options: {
        handler: HANDLERS.cron,
        payload: { cron: s },
        cron: spec.cron,
        timezone: spec.timezone,
        expiresAt: end,
        maxAttempts: 6,
        backoff: BACKOFF,
      },
    });
  }
  // Shuffle so every batch mixes kinds, then repeat ~1% of keyed entries later in the same batch with a
  // new payload and due time: one job per key, the later write wins.
  for (let i = planned.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [planned[i], planned[j]] = [planned[j]!, planned[i]!];
  }

  const workload: Workload = {
    tasks: new Map(),
    series: new Map(),
    start,
    end,
    submitted: 0,
    scheduledInMs: 0,
    inBatchDuplicateKeys: 0,
    upserted: 0,
    upsertsLate: 0,
  };
  const batches: Planned[][] = [series];
  for (let offset = 0; offset < planned.length; offset += BATCH)
    batches.push(planned.slice(offset, offset + BATCH));
  for (const batch of batches) {
    const extra: Planned[] = [];
    for (const p of batch) {
      if (p.kind === 'keyed' && random() < 0.01) {
        extra.push({
          kind: 'keyed',
          options: { ...p.options, payload: { again: true, key: p.options.key! }, at: at() },
        });
      }
    }
    workload.inBatchDuplicateKeys += extra.length;
    const all = [...batch, ...extra];
    const results = await scheduler.scheduleMany(all.map((p) => p.options));
    workload.submitted += all.length;
    all.forEach((p, n) => {
      const { id, runAt, revision } = results[n]!;
      const o = p.options;
      if (p.kind === 'every' || p.kind === 'cron') {
        workload.series.set(id, {
          id,
          kind: p.kind,
          handler: o.handler,
          ...(o.everyMs !== undefined ? { everyMs: o.everyMs } : {}),
          ...(o.cron !== undefined ? { cron: o.cron, timezone: o.timezone ?? 'UTC' } : {}),
          firstRunAt: runAt.getTime(),
          revision,
          expiresAt: end,
          maxAttempts: o.maxAttempts ?? 3,
        });
        return;
      }
      const known = workload.tasks.get(id);
      if (known) {
        // The same key again in this batch: the same job, a newer revision.
        if (revision > known.revision) {
          known.revision = revision;
          known.runAt = runAt.getTime();
        }
        return;
      }
      workload.tasks.set(id, {
        id,
        kind: p.kind,
        handler: o.handler,
        runAt: runAt.getTime(),
        revision,
        maxAttempts: o.maxAttempts ?? 3,
        ...(o.expiresAt !== undefined ? { expiresAt: Number(o.expiresAt) } : {}),
        ...(o.key !== undefined ? { userKey: o.key } : {}),
        superseded: [],
      });
    });
  }
  workload.scheduledInMs = Date.now() - now;
  return workload;
}

/**
 * Upserts keyed jobs that are not due for a while (so their old revision cannot have started): new payload,
 * new due time. The old revision's idempotency key must then never run, the new one exactly once.
 */
export async function upsertSome(
  scheduler: Scheduler,
  workload: Workload,
  count: number,
  random: () => number,
  marginMs: number,
): Promise<void> {
  const now = Date.now();
  const candidates = [...workload.tasks.values()].filter(
    (t) => t.kind === 'keyed' && t.runAt > now + marginMs && t.runAt < workload.end,
  );
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  const chosen = candidates.slice(0, count);
  for (let offset = 0; offset < chosen.length; offset += 100) {
    const batch = chosen.slice(offset, offset + 100);
    const options: ScheduleOptions[] = batch.map((t) => ({
      handler: HANDLERS.keyed,
      key: t.userKey!,
      payload: { upserted: true, key: t.userKey! },
      at: Math.max(t.runAt + Math.floor((random() - 0.5) * 4_000), Date.now() + 2_000),
      maxAttempts: t.maxAttempts,
      backoff: BACKOFF,
    }));
    const results = await scheduler.scheduleMany(options);
    const done = Date.now();
    batch.forEach((t, n) => {
      const r = results[n]!;
      if (r.id !== t.id) throw new Error(`upsert of ${t.userKey} returned id ${r.id}, expected ${t.id}`);
      const oldKey = expectedKey(t.id, t.runAt, t.revision);
      t.superseded.push({ key: oldKey, runAt: t.runAt, upsertDoneAt: done });
      if (done >= t.runAt) workload.upsertsLate++;
      t.runAt = r.runAt.getTime();
      t.revision = r.revision;
      workload.upserted++;
    });
  }
}
