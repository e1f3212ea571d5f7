/** Sizes and run counts of a bench run: the full run (`npm run bench`) or the quick one (`BENCH_QUICK=1`). */

export interface BenchConfig {
  readonly quick: boolean;
  /** Runs per figure; each figure reports the median with min and max. */
  readonly runs: number;
  /** Jobs per batched-schedule run (batches of `batchSize`, `batchesInFlight` at a time). */
  readonly scheduleN: number;
  readonly batchSize: number;
  readonly batchesInFlight: number;
  /** Jobs per single-schedule run, `singleInFlight` calls at a time. */
  readonly singleN: number;
  readonly singleInFlight: number;
  /** Calls in the idle latency run (one call in flight). */
  readonly latencyCalls: number;
  /** Jobs per memory run. */
  readonly memoryN: number;
  /** Due jobs per claim run. */
  readonly claimN: number;
  /** Due jobs per end-to-end run, and the handler concurrency of both systems. */
  readonly e2eN: number;
  /** Unmeasured end-to-end runs in each run's own process before the measured one. */
  readonly e2eWarmups: number;
  readonly concurrency: number;
  /** Lateness: tasks spread evenly (seeded random) over `latenessSpreadMs`. */
  readonly latenessTasks: number;
  readonly latenessSpreadMs: number;
  /** Also measure lateness at hz 100 (BENCH_HZ100=1). */
  readonly latenessHz100: boolean;
  /** Backlog sizes, and runs for the largest one. */
  readonly backlogSizes: readonly number[];
  readonly backlogRunsLargest: number;
  /** Members per bare-Lua ceiling run. */
  readonly ceilingN: number;
}

export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const hz100 = env.BENCH_HZ100 === '1' || env.BENCH_HZ100 === 'true';
  if (quick) {
    return {
      quick,
      runs: 1,
      scheduleN: 20_000,
      batchSize: 1000,
      batchesInFlight: 4,
      singleN: 5_000,
      singleInFlight: 50,
      latencyCalls: 500,
      memoryN: 20_000,
      claimN: 20_000,
      e2eN: 5_000,
      e2eWarmups: 1,
      concurrency: 100,
      latenessTasks: 400,
      latenessSpreadMs: 4_000,
      latenessHz100: hz100,
      backlogSizes: [10_000, 100_000],
      backlogRunsLargest: 1,
      ceilingN: 20_000,
    };
  }
  return {
    quick,
    runs: 3,
    scheduleN: 100_000,
    batchSize: 1000,
    batchesInFlight: 4,
    singleN: 20_000,
    singleInFlight: 50,
    latencyCalls: 2_000,
    memoryN: 100_000,
    claimN: 100_000,
    e2eN: 100_000,
    e2eWarmups: 3,
    concurrency: 100,
    latenessTasks: 2_000,
    latenessSpreadMs: 20_000,
    latenessHz100: hz100,
    backlogSizes: [10_000, 100_000, 1_000_000],
    backlogRunsLargest: 3,
    ceilingN: 100_000,
  };
}
