/**
 * One chaos run (issue 7): a private Redis with `appendfsync always`, a loopback EventBridge that fails on
 * purpose and delivers what it accepts to the real `taskHandler`, three tick processes killed with SIGKILL
 * and restarted, Redis stopped and restarted on the same port and directory, handlers that fail, hang and
 * get duplicates. Then a drain, and the invariants of `invariants.ts` checked from the logs and from Redis.
 *
 * `npm run chaos` runs `fullParams()`; `test/chaos/chaos.test.ts` runs `smallParams()` through the same code.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Scheduler } from '../src/client/scheduler.js';
import { connect, type RedisClient } from '../src/redis/connection.js';
import {
  type EventBridgeLoopback,
  type LoopbackEntry,
  type LoopbackFault,
  startEventBridgeLoopback,
} from '../test/support/eventbridge-loopback.js';
import { type RedisServerHandle, startRedisServer } from '../test/support/redis-server.js';
import { ALL_HANDLERS, HANDLERS, HandlerFleet } from './fleet.js';
import { checkInvariants, type InvariantSummary } from './invariants.js';
import { between, type ChaosParams, rng } from './params.js';
import { readEffects, readFinalState } from './state.js';
import { TickFleet } from './ticks.js';
import { scheduleWorkload, upsertSome, type Workload } from './workload.js';

export interface PublisherFaultCounts {
  requests: number;
  ok: number;
  partial: number;
  partialEntriesFailed: number;
  throttle: number;
  /** Throttled because the handler side was backlogged (not random: keeps leases meaningful on a slow box). */
  backpressure: number;
  error500: number;
  reset: number;
  ackLost: number;
}

export interface ChaosReport {
  readonly seed: number;
  readonly params: ChaosParams;
  readonly tasks: {
    readonly submitted: number;
    readonly scheduledInMs: number;
    readonly jobs: number;
    readonly byKind: Record<string, number>;
    readonly series: number;
    readonly inBatchDuplicateKeys: number;
    readonly upserted: number;
    readonly upsertsLate: number;
  };
  readonly kills: number;
  readonly leaderKills: number;
  readonly tickStarts: number;
  readonly redisRestarts: readonly string[];
  readonly publisher: PublisherFaultCounts;
  readonly deliveries: {
    readonly accepted: number;
    readonly duplicatesInjected: number;
    readonly invocations: number;
    /** Entries that were batch events, and the tasks in them. */
    readonly batchEvents: number;
    readonly batchedTasks: number;
    readonly byStatus: Record<string, number>;
  };
  readonly handlerFaults: {
    readonly failuresInjected: number;
    readonly beforeEffect: number;
    readonly afterEffect: number;
    readonly hangsPastTimeoutAndLease: number;
    readonly hangsPastLease: number;
    readonly poisonFailures: number;
  };
  readonly invariants: InvariantSummary;
  readonly drainMs: number | undefined;
  readonly durationMs: number;
  readonly tickStderr: {
    readonly warnings: number;
    readonly errors: number;
    readonly other: number;
    /** Distinct messages (numbers masked) with counts. */
    readonly messages: Record<string, number>;
  };
  readonly runDir: string;
}

function faultPlan(
  params: ChaosParams,
  random: () => number,
  counts: PublisherFaultCounts,
  backlog: () => number,
) {
  const f = params.publisherFaults;
  return (_index: number, entries: readonly LoopbackEntry[]): LoopbackFault => {
    counts.requests++;
    if (backlog() > params.backpressureBacklog) {
      counts.backpressure++;
      return 'throttle';
    }
    const r = random();
    let edge = f.partial;
    if (r < edge) {
      const failIndexes = entries.map((_, i) => i).filter(() => random() < 0.4);
      if (failIndexes.length === 0) failIndexes.push(Math.floor(random() * entries.length));
      counts.partial++;
      counts.partialEntriesFailed += failIndexes.length;
      return { failIndexes, code: random() < 0.7 ? 'ThrottlingException' : 'InternalFailure' };
    }
    const kinds = [
      ['throttle', f.throttle, 'throttle'],
      ['error500', f.error500, '500'],
      ['reset', f.reset, 'reset'],
      ['ackLost', f.ackLost, 'ackLost'],
    ] as const;
    for (const [counter, rate, fault] of kinds) {
      edge += rate;
      if (r < edge) {
        counts[counter]++;
        return fault;
      }
    }
    counts.ok++;
    return 'ok';
  };
}

const REDIS_ARGS = ['--appendonly', 'yes', '--appendfsync', 'always'];
const SHARDS = 2;

export async function runChaos(
  params: ChaosParams,
  log: (line: string) => void = () => undefined,
): Promise<ChaosReport> {
  const began = Date.now();
  const random = rng(params.seed);
  const runsDir = params.runsDir ?? tmpdir();
  mkdirSync(runsDir, { recursive: true });
  const runDir = mkdtempSync(join(runsDir, 'tickset-chaos-'));
  const redisDir = join(runDir, 'redis');
  mkdirSync(redisDir);
  const namespace = `chaos-${params.seed.toString(36)}`;

  let redis: RedisServerHandle = await startRedisServer({ args: REDIS_ARGS, dir: redisDir });
  const port = redis.port;
  const url = redis.url;
  log(`redis ${url} (appendfsync always) in ${redisDir}; seed ${params.seed}`);

  const publisherCounts: PublisherFaultCounts = {
    requests: 0,
    ok: 0,
    partial: 0,
    partialEntriesFailed: 0,
    throttle: 0,
    backpressure: 0,
    error500: 0,
    reset: 0,
    ackLost: 0,
  };
  let fleet: HandlerFleet | undefined;
  const loopback: EventBridgeLoopback = await startEventBridgeLoopback({
    faultPlan: faultPlan(params, rng(params.seed ^ 0x5eed), publisherCounts, () => fleet?.backlog() ?? 0),
  });
  const clients: RedisClient[] = [];
  const client = () => {
    const c = connect(url);
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const scheduler = new Scheduler({ redis: client(), namespace, shards: SHARDS });
  const engine = scheduler.engine;
  fleet = new HandlerFleet(params, engine, client(), rng(params.seed ^ 0xf1ee7));
  fleet.start(loopback.delivered);

  const ticks = new TickFleet(params.tickProcesses, {
    redisUrl: url,
    namespace,
    shards: SHARDS,
    eventBridgeUrl: loopback.url,
    leaseMs: { [HANDLERS.slow]: params.slowLeaseMs },
    defaultLeaseMs: params.leaseMs,
    leaderLeaseMs: params.leaderLeaseMs,
    knownHandlers: ALL_HANDLERS,
    extraPassEveryMs: params.extraPassEveryMs,
    batchSize: 100,
    maxUnpublished: 400,
    batch: params.batched,
  });
  const redisRestarts: string[] = [];
  let drainMs: number | undefined;
  let workload: Workload | undefined;
  let invariants: InvariantSummary | undefined;
  try {
    workload = await scheduleWorkload(scheduler, params, random, Date.now());
    log(
      `scheduled ${workload.submitted} (${workload.tasks.size} jobs, ${workload.series.size} series) in ${workload.scheduledInMs} ms, due over ${params.windowMs} ms`,
    );
    ticks.startAll();
    const w = workload;

    // Tick kills: random gaps, about half aimed at the current leader, each followed by a restart.
    const restarts: Promise<void>[] = [];
    const killing = (async () => {
      const killRandom = rng(params.seed ^ 0x0c1d);
      while (Date.now() < w.end || ticks.counters.kills < params.minKills) {
        await sleep(between(killRandom, params.killEveryMs));
        const alive = ticks.alive();
        if (alive.length === 0) continue;
        let index = alive[Math.floor(killRandom() * alive.length)]!;
        let leader = false;
        if (killRandom() < 0.5) {
          const owner = await engine.redis.get(engine.global.leader);
          const held = ticks.slotOfOwner(owner);
          if (held !== undefined) {
            index = held;
            leader = true;
          }
        }
        await ticks.kill(index, leader);
        const delay = between(killRandom, params.restartDelayMs);
        restarts.push(sleep(delay).then(() => ticks.start(index)));
      }
      await Promise.all(restarts);
      log(`tick kills done: ${ticks.counters.kills} (${ticks.counters.leaderKills} of the leader)`);
    })();

    // Redis restarts on the same port and directory; every client must reconnect by itself.
    const restarting = (async () => {
      for (const plan of params.redisRestarts) {
        const at = w.start + plan.atFraction * params.windowMs;
        if (at > Date.now()) await sleep(at - Date.now());
        await redis.stop({ keepDir: true, signal: plan.signal });
        await sleep(plan.downMs);
        redis = await startRedisServer({ args: REDIS_ARGS, dir: redisDir, port });
        redisRestarts.push(
          `${plan.signal} at +${Math.round(Date.now() - w.start)} ms, down ${plan.downMs} ms`,
        );
        log(`redis restarted after ${plan.signal}`);
      }
    })();

    // Upserts mid-run, of keyed jobs not due for a while.
    const upserting = (async () => {
      const at = w.start + 0.2 * params.windowMs;
      if (at > Date.now()) await sleep(at - Date.now());
      await upsertSome(scheduler, w, params.upserts, random, 8_000);
      log(`upserted ${w.upserted} keyed jobs (${w.upsertsLate} after their old due time)`);
    })();

    await Promise.all([killing, restarting, upserting]);

    // Drain: wait until nothing is queued, in flight, being armed or being handled.
    const drainDeadline = Math.max(Date.now(), w.end) + params.drainTimeoutMs;
    let lastProgress = 0;
    for (;;) {
      if (await drained(scheduler, fleet, loopback)) {
        drainMs = Math.max(0, Date.now() - w.end);
        break;
      }
      if (Date.now() > drainDeadline) break;
      if (Date.now() - lastProgress > 5_000) {
        const s = await scheduler.stats();
        log(`draining: scheduled ${s.scheduled}, due ${s.due}, inflight ${s.inflight}, dead ${s.dead}`);
        lastProgress = Date.now();
      }
      await sleep(100);
    }
    log(drainMs === undefined ? 'drain timed out' : `drained ${drainMs} ms after the last due time`);
    await ticks.stopAll();
    fleet.stop();

    const final = await readFinalState(engine);
    const keys = new Set<string>(fleet.executions.map((e) => e.key));
    for (const t of w.tasks.values()) keys.add(`${t.id}:${t.runAt}:${t.revision}`);
    const effects = await readEffects(engine, keys);
    invariants = checkInvariants(params, w, fleet.executions, fleet.invocations, final, effects);
    if (drainMs === undefined) {
      const s = await scheduler.stats();
      invariants.violations.push({
        invariant: 'drained',
        detail: `not drained within ${params.drainTimeoutMs} ms: scheduled ${s.scheduled}, due ${s.due}, inflight ${s.inflight}`,
      });
      invariants.byInvariant.drained = (invariants.byInvariant.drained ?? 0) + 1;
    }
  } finally {
    fleet.stop();
    await ticks.stopAll();
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await loopback.close();
    await redis.stop({ keepDir: true });
  }

  const byStatus: Record<string, number> = {};
  for (const inv of fleet.invocations)
    byStatus[inv.status ?? 'unfinished'] = (byStatus[inv.status ?? 'unfinished'] ?? 0) + 1;
  const byKind: Record<string, number> = {};
  for (const t of workload.tasks.values()) byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
  const c = fleet.counters;
  const report: ChaosReport = {
    seed: params.seed,
    params,
    tasks: {
      submitted: workload.submitted,
      scheduledInMs: workload.scheduledInMs,
      jobs: workload.tasks.size,
      byKind,
      series: workload.series.size,
      inBatchDuplicateKeys: workload.inBatchDuplicateKeys,
      upserted: workload.upserted,
      upsertsLate: workload.upsertsLate,
    },
    kills: ticks.counters.kills,
    leaderKills: ticks.counters.leaderKills,
    tickStarts: ticks.counters.started,
    redisRestarts,
    publisher: publisherCounts,
    deliveries: {
      accepted: c.delivered,
      duplicatesInjected: c.duplicatesInjected,
      invocations: fleet.invocations.length,
      batchEvents: c.batchEvents,
      batchedTasks: c.batchedTasks,
      byStatus,
    },
    handlerFaults: {
      failuresInjected: c.failuresInjected,
      beforeEffect: c.failuresBeforeEffect,
      afterEffect: c.failuresAfterEffect,
      hangsPastTimeoutAndLease: c.hangsInjected,
      hangsPastLease: c.slowHangsInjected,
      poisonFailures: c.poisonFailures,
    },
    invariants: invariants!,
    drainMs,
    durationMs: Date.now() - began,
    tickStderr: {
      warnings: ticks.counters.stderrWarnings,
      errors: ticks.counters.stderrErrors,
      other: ticks.counters.stderrOther,
      messages: Object.fromEntries(ticks.counters.messages),
    },
    runDir,
  };
  if (params.keepRunDir) {
    writeFileSync(
      join(runDir, 'executions.jsonl'),
      fleet.executions.map((e) => JSON.stringify(e)).join('\n'),
    );
    writeFileSync(
      join(runDir, 'invocations.jsonl'),
      fleet.invocations.map((e) => JSON.stringify(e)).join('\n'),
    );
    // .jsonl, not .json: `biome check .` would lint a kept run directory otherwise.
    writeFileSync(join(runDir, 'report.jsonl'), JSON.stringify(report));
  } else {
    rmSync(runDir, { recursive: true, force: true });
  }
  return report;
}

async function drained(
  scheduler: Scheduler,
  fleet: HandlerFleet,
  loopback: EventBridgeLoopback,
): Promise<boolean> {
  if (loopback.inFlight > 0 || !fleet.idle(loopback.delivered)) return false;
  const stats = await scheduler.stats();
  if (stats.scheduled + stats.due + stats.inflight > 0) return false;
  const engine = scheduler.engine;
  for (let shard = 0; shard < engine.shards; shard++) {
    if ((await engine.redis.scard(engine.keys(shard).arm)) > 0) return false;
  }
  // Check again: an answer in transit could have been between two of the reads above.
  return loopback.inFlight === 0 && fleet.idle(loopback.delivered);
}
