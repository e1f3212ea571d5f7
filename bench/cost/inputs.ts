/**
 * The cost model's inputs: the two deployment profiles, and the per-task figures, read from the benchmark's
 * results (bench/results.json) where it measures them and otherwise stated as assumptions, which the output
 * labels "assumed, not measured". The per-task figures of batched delivery (entry bytes, log bytes, tick
 * CPU) are measured by `npm run cost:measure` (bench/cost/measure.ts) into bench/cost/measured.json.
 */
import type { Figure, Profile, TaskFigures } from './model.js';

const assumed = (value: number, note: string): Figure => ({ value, provenance: 'assumed', note });
const profileValue = (value: number, note: string): Figure => ({ value, provenance: 'profile', note });

export const PROFILES: Readonly<Record<'default' | 'lean', Profile>> = {
  default: {
    name: 'default',
    description:
      "today's sample stack: 2 AZs, 1 NAT gateway, 2 interface endpoints (EventBridge, Secrets Manager) in 2 AZs, " +
      '2 x cache.t4g.small, tick 512 MB, one task per PutEvents entry',
    cacheNodes: 2,
    cacheNodePrice: 'cacheT4gSmallValkeyHour',
    natGateways: 1,
    interfaceEndpoints: 2,
    endpointAzs: 2,
    tickMemoryMb: 512,
    tickSecondsPerInvocation: {
      second: profileValue(
        70,
        'second precision: each invocation loops ~70 s (infra/tick.ts), one per minute',
      ),
      minute: assumed(1, 'minute precision: one short pass per invocation'),
    },
    alarms: 12,
    customMetrics: 16,
    dashboards: 1,
    kmsKeys: 1,
    secrets: 1,
    batched: false,
  },
  lean: {
    name: 'lean',
    description:
      '1 AZ, no NAT gateway, 1 cache.t4g.micro, IAM auth to the cache (no secret, so no Secrets Manager ' +
      'endpoint), 1 interface endpoint (EventBridge) in 1 AZ, tick 256 MB, batched delivery, 4 alarms, ' +
      '6 custom metrics, no dashboard, AWS-managed keys',
    cacheNodes: 1,
    cacheNodePrice: 'cacheT4gMicroValkeyHour',
    natGateways: 0,
    interfaceEndpoints: 1,
    endpointAzs: 1,
    tickMemoryMb: 256,
    tickSecondsPerInvocation: {
      second: profileValue(
        70,
        'second precision: each invocation loops ~70 s (infra/tick.ts), one per minute',
      ),
      minute: assumed(1, 'minute precision: one short pass per invocation'),
    },
    alarms: 4,
    customMetrics: 6,
    dashboards: 0,
    kmsKeys: 0,
    secrets: 0,
    batched: true,
  },
};

/** Redis work per task of a local drain (claim, begin, complete; the schedule step is not in it). */
export interface RedisPerTask {
  /** Script calls (EVALSHA / EVAL) sent by the client: its round trips. */
  readonly scriptCallsPerTask: number;
  /** Every command Redis ran, the calls inside scripts included (INFO commandstats counts both). */
  readonly commandsPerTask: number;
  /** Redis CPU per task, µs (commandstats usec). */
  readonly usecPerTask: number;
}

export interface MeasuredInputs {
  readonly measuredAt: string;
  readonly node: string;
  readonly taskBytes: number;
  readonly entryEnvelopeBytes: number;
  /** One task's entry without batching (`detail.v: 1`), bytes as EventBridge counts them. */
  readonly unbatchedEntryBytes: number;
  readonly logBytesPerEntry: number;
  /** The wrapper's output for one single-task event (no batching). */
  readonly logBytesUnbatched: number;
  readonly logBytesPerTask: number;
  /** Wrapper output bytes of batches of 1, 10, 100 tasks. */
  readonly logSamples: Readonly<Record<string, number>>;
  readonly redis: {
    readonly batched: RedisPerTask;
    readonly unbatched: RedisPerTask;
  };
  readonly tickCpuUsPerTask: { readonly batched: number; readonly unbatched: number };
}

/** The subset of bench/results.json the model reads. */
export interface BenchResults {
  readonly finishedAt?: string;
  readonly figures?: {
    readonly claimPublish?: {
      cpu?: { tickset?: { redisUs?: { median?: number }; clientUs?: { median?: number } } };
    };
    readonly scheduleBatched?: { cpu?: { tickset?: { redisUs?: { median?: number } } } };
  };
}

/**
 * Per-task figures: measured ones from `results` (the benchmark) and `measured` (bench/cost/measure.ts)
 * when present, the rest assumed. `batched` picks the batched or the unbatched measurement.
 */
export function taskFigures(
  results: BenchResults | undefined,
  measured?: MeasuredInputs,
  batched = true,
): TaskFigures {
  const base = assumedOrBench(results);
  if (measured === undefined) return base;
  const m = (value: number, note: string): Figure => ({
    value,
    provenance: 'measured',
    note: `${note} (bench/cost/measured.json, ${measured.measuredAt})`,
  });
  if (!batched) {
    return {
      ...base,
      taskBytes: m(measured.taskBytes, 'bytes per task at the bench payload (payload100)'),
      entryEnvelopeBytes: m(
        measured.unbatchedEntryBytes - measured.taskBytes,
        'bytes of a one-task entry besides the task fields',
      ),
      logBytesPerEntry: m(
        measured.logBytesUnbatched,
        'wrapper output per single-task event at the default level: one EMF metrics line',
      ),
      logBytesPerTask: m(0, 'nothing per task beyond its event'),
    };
  }
  return {
    ...base,
    taskBytes: m(measured.taskBytes, 'bytes per task in a batch entry at the bench payload (payload100)'),
    entryEnvelopeBytes: m(
      measured.entryEnvelopeBytes,
      'bytes of a batch entry besides its tasks (source, detail-type, shared fields)',
    ),
    maxTasksPerEntry: profileValue(100, 'batched delivery default maxTasks (src/config/env.ts DEFAULTS)'),
    logBytesPerEntry: m(
      measured.logBytesPerEntry,
      'wrapper output per batch event at the default level: one EMF metrics line, no info line on success',
    ),
    logBytesPerTask: m(
      measured.logBytesPerTask,
      'wrapper output per task of a batch: its HandlerStartLagMs value',
    ),
    tickCpuUsPerTask: m(
      measured.tickCpuUsPerTask.batched,
      'tick process CPU per task, claim + decode + pack + PutEvents request (mocked client)',
    ),
  };
}

function assumedOrBench(results: BenchResults | undefined): TaskFigures {
  const at = results?.finishedAt ? ` (run ${results.finishedAt})` : '';
  const claim = results?.figures?.claimPublish?.cpu?.tickset;
  const schedule = results?.figures?.scheduleBatched?.cpu?.tickset;
  const tickUs = claim?.clientUs?.median;
  const redisClaimUs = claim?.redisUs?.median;
  const redisScheduleUs = schedule?.redisUs?.median;
  return {
    taskBytes: assumed(1024, 'bytes per task in an entry: a payload under 1 KB (docs/DEPLOY.md "Cost")'),
    entryEnvelopeBytes: assumed(512, 'bytes per entry besides its tasks (source, detail-type, bus, JSON)'),
    maxTasksPerEntry: assumed(
      100,
      'most tasks per entry: a setting of batched delivery, which does not exist yet',
    ),
    logBytesPerEntry: assumed(
      1200,
      'log bytes per delivered entry: wrapper lines + one EMF metrics line, ~1.2 KB (docs/DEPLOY.md "Cost")',
    ),
    logBytesPerTask: assumed(0, 'log bytes per task on top of its entry: none (one task per entry today)'),
    tickCpuUsPerTask:
      tickUs !== undefined
        ? {
            value: tickUs,
            provenance: 'measured',
            note: `bench/results.json claimPublish client µs/job${at}`,
          }
        : assumed(1.5, 'tick CPU per task (no bench/results.json figure)'),
    redisUsPerTask:
      redisClaimUs !== undefined && redisScheduleUs !== undefined
        ? {
            value: redisClaimUs + redisScheduleUs,
            provenance: 'measured',
            note: `bench/results.json Redis µs/job of scheduleBatched + claimPublish${at}`,
          }
        : assumed(5, 'Redis CPU per task (no bench/results.json figure)'),
  };
}

/** Batched delivery logs per entry plus a little per task: an assumption until it exists and is measured. */
export const BATCHED_LOG_BYTES_PER_TASK: Figure = assumed(
  24,
  'log bytes per task in a batch (its id in the batch summary): batched delivery does not exist yet',
);
