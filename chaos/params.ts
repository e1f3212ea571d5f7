/**
 * Parameters of one chaos run, and the two presets: `FULL` (`npm run chaos`) and `SMALL` (the same
 * scenario with fewer tasks and kills, run by `test/chaos/chaos.test.ts` inside `npm test`).
 */

export type Range = readonly [min: number, max: number];

export interface RedisRestartPlan {
  /** When, as a fraction of the due window (0 = first due time, 1 = last). */
  readonly atFraction: number;
  /** How Redis is stopped. With `appendfsync always` acknowledged writes survive either. */
  readonly signal: 'SIGKILL' | 'SIGTERM';
  /** How long Redis stays down before it is started again on the same port and directory. */
  readonly downMs: number;
}

export interface PublisherFaultRates {
  /** A request whose entries partly fail (ThrottlingException / InternalFailure per entry). */
  readonly partial: number;
  /** The whole call throttled (HTTP 400 ThrottlingException). */
  readonly throttle: number;
  /** HTTP 500 InternalException. */
  readonly error500: number;
  /** Connection destroyed before any answer: nothing accepted. */
  readonly reset: number;
  /** Entries accepted, then the connection destroyed: the publisher cannot know, and may send them again. */
  readonly ackLost: number;
}

export interface ChaosParams {
  /** Tasks scheduled up front (one-off, keyed, poison, expiring and the recurring series). */
  readonly tasks: number;
  /** Due times are spread over this window, which starts `startDelayMs` after scheduling. */
  readonly windowMs: number;
  readonly startDelayMs: number;
  /** Interval series (everyMs) and cron series (6 fields, with seconds), all ending at the window's end. */
  readonly intervalSeries: number;
  readonly cronSeries: number;
  /** Keyed jobs upserted again while the run is under way (only ones not due for a while). */
  readonly upserts: number;
  /** Tick child processes running at once. */
  readonly tickProcesses: number;
  /** SIGKILLs of tick processes: random gaps in `killEveryMs`, at least `minKills` in all. */
  readonly minKills: number;
  readonly killEveryMs: Range;
  /** Time a killed tick process stays dead before it is started again. */
  readonly restartDelayMs: Range;
  readonly redisRestarts: readonly RedisRestartPlan[];
  /** Lease of the ordinary handlers; the handler wrapper's time-out is below it, as on AWS. */
  readonly leaseMs: number;
  readonly handlerTimeoutMs: number;
  /** `chaos.slow` runs with a lease shorter than its time-out, so a hang outlives the lease. */
  readonly slowLeaseMs: number;
  readonly slowTimeoutMs: number;
  /** Tick leader lease (second mode), short so that a killed leader is replaced quickly. */
  readonly leaderLeaseMs: number;
  /** Random gap between the extra `pass()` calls every tick process makes besides its leader loop. */
  readonly extraPassEveryMs: Range;
  readonly publisherFaults: PublisherFaultRates;
  /** Share of handler executions that throw (half before the keyed effect, half after it). */
  readonly handlerFailureRate: number;
  /** Share of `chaos.oneoff` / `chaos.keyed` executions that hang past time-out and lease (zombies). */
  readonly hangRate: number;
  /** Share of `chaos.slow` executions that hang past the lease (but not the time-out). */
  readonly slowHangRate: number;
  /** Share of delivered events delivered a second time on purpose. */
  readonly duplicateRate: number;
  /** Longest delay of an on-purpose duplicate (0 = at once, concurrently with the original). */
  readonly duplicateDelayMaxMs: number;
  /**
   * Handlers delivered in batches (batched delivery: the ticks pack their tasks of one shard into one
   * PutEvents entry, the wrapper runs the batch), with the most tasks per entry. The others get one
   * entry per task.
   */
  readonly batched: Readonly<Record<string, { readonly maxTasks: number }>>;
  /** Handler invocations running at once in the parent (the "Lambda" concurrency). */
  readonly handlerConcurrency: number;
  /**
   * Above this many invocations waiting or running, the loopback answers PutEvents with throttling
   * (counted apart from the random faults). Lambda scales out; one parent process cannot, and without this
   * a slow or shared machine turns the run into a test of lease expiry under overload.
   */
  readonly backpressureBacklog: number;
  /** Give up on the drain after this long (a violation). */
  readonly drainTimeoutMs: number;
  readonly seed: number;
  /** Keep the run directory (Redis AOF, executions.jsonl, report.jsonl) after the run. */
  readonly keepRunDir: boolean;
  /** Parent directory of run directories. @default - the OS temp dir */
  readonly runsDir?: string;
}

const BASE: Omit<ChaosParams, 'seed'> = {
  tasks: 100_000,
  windowMs: 60_000,
  startDelayMs: 4_000,
  intervalSeries: 40,
  cronSeries: 8,
  upserts: 3_000,
  tickProcesses: 3,
  minKills: 24,
  killEveryMs: [1_200, 3_200],
  restartDelayMs: [100, 1_500],
  redisRestarts: [
    { atFraction: 0.35, signal: 'SIGKILL', downMs: 1_500 },
    { atFraction: 0.7, signal: 'SIGTERM', downMs: 800 },
  ],
  leaseMs: 12_000,
  handlerTimeoutMs: 3_000,
  slowLeaseMs: 3_000,
  slowTimeoutMs: 8_000,
  leaderLeaseMs: 1_500,
  extraPassEveryMs: [100, 600],
  publisherFaults: { partial: 0.1, throttle: 0.03, error500: 0.02, reset: 0.005, ackLost: 0.005 },
  handlerFailureRate: 0.05,
  hangRate: 0.002,
  slowHangRate: 0.05,
  duplicateRate: 0.02,
  duplicateDelayMaxMs: 3_000,
  batched: { 'chaos.keyed': { maxTasks: 20 }, 'chaos.every': { maxTasks: 20 } },
  handlerConcurrency: 128,
  backpressureBacklog: 384,
  drainTimeoutMs: 600_000,
  keepRunDir: false,
};

export function fullParams(overrides: Partial<ChaosParams> = {}): ChaosParams {
  return { ...BASE, seed: randomSeed(), ...overrides };
}

/** The same scenario at a tenth of the size, for `npm test`. */
export function smallParams(overrides: Partial<ChaosParams> = {}): ChaosParams {
  return {
    ...BASE,
    tasks: 10_000,
    windowMs: 20_000,
    startDelayMs: 3_000,
    intervalSeries: 12,
    cronSeries: 4,
    upserts: 300,
    minKills: 8,
    killEveryMs: [1_200, 2_500],
    redisRestarts: [
      { atFraction: 0.3, signal: 'SIGKILL', downMs: 1_000 },
      { atFraction: 0.7, signal: 'SIGTERM', downMs: 500 },
    ],
    drainTimeoutMs: 150_000,
    seed: randomSeed(),
    ...overrides,
  };
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** A small seeded PRNG (mulberry32): the fault plan and the workload are reproducible from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function between(random: () => number, [min, max]: Range): number {
  return min + random() * (max - min);
}
