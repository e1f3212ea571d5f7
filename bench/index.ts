/**
 * `npm run bench`: tickset next to BullMQ on one private Redis (`hz 10`, no persistence), the same
 * 100-byte JSON payload, runs of the two systems interleaved. Prints one table, writes
 * `bench/results.json` and the charts in `bench/charts/`. `BENCH_QUICK=1`: the ~30-second version (its
 * results go to a temp file; the checked-in results and charts come from full runs only).
 * `coldstart` is the tick bundle's cold start (`bench/bundle-size.ts`): fresh `node` processes, each
 * importing the bundle and running its first invocation against a private redis-server of its own.
 * `BENCH_ONLY=schedule,memory,...` runs a subset (for profiling); `BENCH_HZ100=1` adds lateness at hz 100.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { bullmqLateness } from './bullmq/lateness.js';
import { bullmqBytesPerJob } from './bullmq/memory.js';
import { bullmqScheduleBatched, bullmqScheduleSingle } from './bullmq/schedule.js';
import { tickColdStart } from './bundle-size.js';
import { backlogChart, compact, latenessChart } from './charts.js';
import { type BenchConfig, benchConfig } from './config.js';
import type { Throughput } from './cpu.js';
import { isolatedEndToEnd } from './e2e-isolated.js';
import { type BenchRedis, startBenchRedis } from './redis.js';
import { bareLuaCeiling } from './reference/lua-ceiling.js';
import { type Distribution, distribution, type Summary, summarize } from './stats.js';
import { type BacklogRun, ticksetBacklog } from './tickset/backlog.js';
import { ticksetClaimPublish } from './tickset/claim.js';
import { HANDLER } from './tickset/common.js';
import { ticksetLateness } from './tickset/lateness.js';
import { ticksetBytesPerJob } from './tickset/memory.js';
import { ticksetScheduleBatched, ticksetScheduleSingle } from './tickset/schedule.js';
import { ticksetUnpark } from './tickset/unpark.js';

const ROOT = join(import.meta.dirname, '..');
const FIGURES = [
  'schedule',
  'latency',
  'memory',
  'claim',
  'limiter',
  'unpark',
  'e2e',
  'e2e-batched',
  'lateness',
  'backlog',
  'ceiling',
  'coldstart',
] as const;
type Figure = (typeof FIGURES)[number];

interface Pair {
  readonly tickset: Summary;
  readonly bullmq?: Summary;
  /** CPU µs per job (Redis server, client process), medians over runs. */
  readonly cpu?: {
    readonly tickset: { readonly redisUs: Summary; readonly clientUs: Summary };
    readonly bullmq?: { readonly redisUs: Summary; readonly clientUs: Summary };
  };
}

interface LatenessResult {
  readonly hz: number;
  readonly tickset: Record<keyof Distribution, Summary>;
  readonly bullmq: Record<keyof Distribution, Summary>;
  readonly samples: { readonly tickset: number[]; readonly bullmq: number[] };
  /** Event-loop delay of the bench process during each system's runs (ms): stalls that no scheduler beats. */
  readonly loopDelayMs: { readonly tickset: LoopDelay[]; readonly bullmq: LoopDelay[] };
}

interface LoopDelay {
  readonly p99: number;
  readonly max: number;
}

/** Runs `fn` while sampling this process's event-loop delay (1 ms resolution). */
async function withLoopDelay<T>(fn: () => Promise<T>): Promise<{ value: T; loop: LoopDelay }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  try {
    const value = await fn();
    return { value, loop: { p99: h.percentile(99) / 1e6, max: h.max / 1e6 } };
  } finally {
    h.disable();
  }
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function version(pkg: string): string {
  try {
    return (
      JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line ? line.split(':')[1]!.trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `runs` rounds; odd rounds run BullMQ first, so drift in machine load does not favour one system. */
async function interleaved<T>(
  runs: number,
  tickset: () => Promise<T>,
  bullmq: (() => Promise<T>) | undefined,
  options: { readonly warmup?: boolean } = {},
): Promise<{ tickset: T[]; bullmq: T[] }> {
  const out = { tickset: [] as T[], bullmq: [] as T[] };
  if (options.warmup) {
    // One unmeasured run of each system first: JIT compilation, script loading and connection set-up are
    // not what a throughput figure measures (the first run of a code path was up to 40% slower, for both).
    await tickset();
    if (bullmq) await bullmq();
  }
  for (let run = 0; run < runs; run++) {
    if (bullmq && run % 2 === 1) out.bullmq.push(await bullmq());
    out.tickset.push(await tickset());
    if (bullmq && run % 2 === 0) out.bullmq.push(await bullmq());
  }
  return out;
}

/**
 * Bytes per job, `runs` rounds, each on a fresh `redis-server` shared by both systems (odd rounds BullMQ
 * first). Why a server per round: Redis seeds its hash function at random when it starts, and whether the
 * incremental rehash of each BullMQ job hash (6 fields, a hashtable since its data is over 64 bytes)
 * finishes within its own write depends on where the field names land, the same for every job: in some
 * server starts every job keeps both bucket tables, 32 bytes more (775 or 807 B per job at 100,000;
 * BENCHMARKS.md). On one server the runs of a figure would all draw the same seed; one per round samples it.
 * Each fresh server first takes 1,000 unmeasured jobs of each system: the first large write to a new server
 * allocates ~40 KB once (0.4 B per job here), which would otherwise land on whichever system runs first.
 */
async function memoryRounds(
  runs: number,
  n: number,
): Promise<{ tickset: number[]; bullmq: number[]; ticksetQueued: number[] }> {
  const out = { tickset: [] as number[], bullmq: [] as number[], ticksetQueued: [] as number[] };
  for (let run = 0; run < runs; run++) {
    const fresh = await startBenchRedis(10);
    try {
      await ticksetBytesPerJob(fresh, 1000);
      await bullmqBytesPerJob(fresh, 1000);
      if (run % 2 === 1) out.bullmq.push(await bullmqBytesPerJob(fresh, n));
      out.tickset.push(await ticksetBytesPerJob(fresh, n));
      out.ticksetQueued.push(await ticksetBytesPerJob(fresh, n, true));
      if (run % 2 === 0) out.bullmq.push(await bullmqBytesPerJob(fresh, n));
    } finally {
      await fresh.stop();
    }
  }
  return out;
}

/** Throughput figures warm both systems up first (latency, memory and lateness figures do not need it). */
const WARM = { warmup: true } as const;

function pair(values: { tickset: number[]; bullmq: number[] }): Pair {
  return {
    tickset: summarize(values.tickset),
    ...(values.bullmq.length > 0 ? { bullmq: summarize(values.bullmq) } : {}),
  };
}

function cpuOf(list: readonly Throughput[]) {
  return {
    redisUs: summarize(list.map((t) => t.cpu.redisUs)),
    clientUs: summarize(list.map((t) => t.cpu.clientUs)),
  };
}

/** Throughput runs of both systems: jobs/s, and CPU per job on each side. */
function throughputPair(values: { tickset: Throughput[]; bullmq: Throughput[] }): Pair {
  return {
    ...pair({
      tickset: values.tickset.map((t) => t.perSecond),
      bullmq: values.bullmq.map((t) => t.perSecond),
    }),
    cpu: {
      tickset: cpuOf(values.tickset),
      ...(values.bullmq.length > 0 ? { bullmq: cpuOf(values.bullmq) } : {}),
    },
  };
}

/** Due-time offsets spread over `spreadMs` (seeded, so both systems get the same schedule). */
function latenessOffsets(count: number, spreadMs: number): number[] {
  let seed = 0x5eed1234;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => Math.floor(random() * spreadMs)).sort((a, b) => a - b);
}

async function measureLateness(redis: BenchRedis, cfg: BenchConfig, hz: number): Promise<LatenessResult> {
  await redis.setHz(hz);
  const offsets = latenessOffsets(cfg.latenessTasks, cfg.latenessSpreadMs);
  const runs = await interleaved(
    cfg.runs,
    () => withLoopDelay(() => ticksetLateness(redis, offsets, cfg.concurrency)),
    () => withLoopDelay(() => bullmqLateness(redis, offsets, cfg.concurrency)),
  );
  await redis.setHz(10);
  const byPercentile = (list: number[][]) => {
    const d = list.map(distribution);
    const keys = ['count', 'p50', 'p95', 'p99', 'max', 'mean'] as const;
    return Object.fromEntries(keys.map((k) => [k, summarize(d.map((x) => x[k]))])) as Record<
      keyof Distribution,
      Summary
    >;
  };
  return {
    hz,
    tickset: byPercentile(runs.tickset.map((r) => r.value)),
    bullmq: byPercentile(runs.bullmq.map((r) => r.value)),
    samples: { tickset: runs.tickset.flatMap((r) => r.value), bullmq: runs.bullmq.flatMap((r) => r.value) },
    loopDelayMs: { tickset: runs.tickset.map((r) => r.loop), bullmq: runs.bullmq.map((r) => r.loop) },
  };
}

// ---------------------------------------------------------------------------------------------------
// Formatting

const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const ms1 = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : 'n/a');
function cell(s: Summary | undefined, f: (v: number) => string): string {
  if (!s || s.runs.length === 0) return '—';
  if (s.runs.length === 1) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}
const ratio = (a: Summary | undefined, b: Summary | undefined) =>
  a && b && b.median > 0 ? `${(a.median / b.median).toFixed(2)}x` : '—';

interface Row {
  figure: string;
  unit: string;
  tickset: string;
  bullmq: string;
  ratio: string;
  target: string;
  met: string;
}

function markdownTable(rows: Row[]): string {
  const head = '| figure | unit | tickset | BullMQ | ratio | target | met |';
  const sep = '|---|---|---:|---:|---:|---|---|';
  return [
    head,
    sep,
    ...rows.map(
      (r) => `| ${r.figure} | ${r.unit} | ${r.tickset} | ${r.bullmq} | ${r.ratio} | ${r.target} | ${r.met} |`,
    ),
  ].join('\n');
}

const yes = (ok: boolean, gap: string) => (ok ? 'yes' : `**no** (${gap})`);

// ---------------------------------------------------------------------------------------------------

/** Draws bench/charts/*.svg from a results object (a fresh run, or bench/results.json). */
function writeCharts(results: Record<string, unknown>): void {
  const figures = (results.figures ?? {}) as Record<string, unknown>;
  const config = results.config as BenchConfig;
  const machine = results.machine as { bullmq: string };
  const lateness = (figures.lateness ?? []) as Array<{
    hz: number;
    tickset: Record<'p50' | 'p99', Summary>;
    bullmq: Record<'p50' | 'p99', Summary>;
    samplesMs: { tickset: number[]; bullmq: number[] };
  }>;
  const hz10 = lateness.find((l) => l.hz === 10);
  if (hz10) {
    writeFileSync(
      join(ROOT, 'bench', 'charts', 'lateness.svg'),
      latenessChart({
        tasks: config.latenessTasks,
        spreadMs: config.latenessSpreadMs,
        runs: config.runs,
        hz: 10,
        bullmqVersion: machine.bullmq,
        tickset: {
          samplesMs: hz10.samplesMs.tickset,
          p50: hz10.tickset.p50.median,
          p99: hz10.tickset.p99.median,
        },
        bullmq: {
          samplesMs: hz10.samplesMs.bullmq,
          p50: hz10.bullmq.p50.median,
          p99: hz10.bullmq.p99.median,
        },
      }),
    );
  }
  const backlog = figures.backlog as
    | Array<{ size: number; perSecond: Summary; rssBefore: Summary; rssPeak: Summary }>
    | undefined;
  if (backlog && backlog.length > 0) {
    const ceiling = (figures.bareLuaCeiling as Pair | undefined)?.tickset.median;
    writeFileSync(
      join(ROOT, 'bench', 'charts', 'backlog.svg'),
      backlogChart({ points: backlog, ...(ceiling !== undefined ? { ceiling } : {}) }),
    );
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_CHARTS_ONLY === '1') {
    writeCharts(
      JSON.parse(readFileSync(join(ROOT, 'bench', 'results.json'), 'utf8')) as Record<string, unknown>,
    );
    log('charts redrawn from bench/results.json');
    return;
  }
  const cfg = benchConfig();
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()) as Figure[] | undefined;
  const want = (f: Figure) => !only || only.includes(f);
  const started = Date.now();
  const loadStart = loadavg();
  log(`${cfg.quick ? 'quick' : 'full'} run, ${cfg.runs} run(s) per figure`);
  const redis = await startBenchRedis(10);
  const stopRedis = () => redis.stop().catch(() => undefined);
  const onSignal = () => {
    void stopRedis().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results: Record<string, unknown> = {};
  const figures: Record<string, unknown> = {};
  try {
    const server = await redis.info('server');
    const machine = {
      nproc: availableParallelism(),
      cpuModel: cpuModel(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      redis: server.redis_version,
      redisAllocator: (await redis.info('memory')).mem_allocator,
      bullmq: version('bullmq'),
      ioredis: version('ioredis'),
      tsx: version('tsx'),
      loadAverageAtStart: loadStart.map((v) => Number(v.toFixed(2))),
    };
    results.machine = machine;
    results.config = cfg;
    log(`machine: ${JSON.stringify(machine)}`);

    let batched: Pair | undefined;
    let single: Pair | undefined;
    let latencyLoaded: { tickset: Distribution; bullmq: Distribution } | undefined;
    let latencyIdle: { tickset: Distribution; bullmq: Distribution } | undefined;
    if (want('schedule')) {
      log(
        `schedule, batched: ${cfg.scheduleN} jobs, ${cfg.batchSize} per batch, ${cfg.batchesInFlight} in flight`,
      );
      batched = throughputPair(
        await interleaved(
          cfg.runs,
          () => ticksetScheduleBatched(redis, cfg.scheduleN, cfg.batchSize, cfg.batchesInFlight),
          () => bullmqScheduleBatched(redis, cfg.scheduleN, cfg.batchSize, cfg.batchesInFlight),
          WARM,
        ),
      );
      log(`schedule, single: ${cfg.singleN} calls, ${cfg.singleInFlight} in flight`);
      const runs = await interleaved(
        cfg.runs,
        () => ticksetScheduleSingle(redis, cfg.singleN, cfg.singleInFlight),
        () => bullmqScheduleSingle(redis, cfg.singleN, cfg.singleInFlight),
        WARM,
      );
      single = throughputPair(runs);
      latencyLoaded = {
        tickset: distribution(runs.tickset.flatMap((r) => r.latenciesMs)),
        bullmq: distribution(runs.bullmq.flatMap((r) => r.latenciesMs)),
      };
      figures.scheduleBatched = batched;
      figures.scheduleSingle = single;
      figures.scheduleLatencyLoaded = latencyLoaded;
    }
    if (want('latency')) {
      log(`schedule latency, one call in flight: ${cfg.latencyCalls} calls`);
      const runs = await interleaved(
        cfg.runs,
        () => ticksetScheduleSingle(redis, cfg.latencyCalls, 1),
        () => bullmqScheduleSingle(redis, cfg.latencyCalls, 1),
      );
      latencyIdle = {
        tickset: distribution(runs.tickset.flatMap((r) => r.latenciesMs)),
        bullmq: distribution(runs.bullmq.flatMap((r) => r.latenciesMs)),
      };
      figures.scheduleLatencyIdle = latencyIdle;
    }

    let memory: Pair | undefined;
    let memoryQueued: Pair | undefined;
    if (want('memory')) {
      log(`memory: ${cfg.memoryN} delayed jobs`);
      const rounds = await memoryRounds(cfg.runs, cfg.memoryN);
      memory = pair(rounds);
      memoryQueued = pair({ tickset: rounds.ticksetQueued, bullmq: rounds.bullmq });
      figures.bytesPerJob = memory;
      figures.bytesPerJobQueued = memoryQueued;
    }

    let ceilingPair: Pair | undefined;
    if (want('ceiling')) {
      log(`bare-Lua ceiling: ${cfg.ceilingN} members`);
      ceilingPair = throughputPair(
        await interleaved(cfg.runs, () => bareLuaCeiling(redis, cfg.ceilingN), undefined, WARM),
      );
      figures.bareLuaCeiling = ceilingPair;
    }
    const ceiling = ceilingPair?.tickset;

    let coldStart: Summary | undefined;
    let bundleBytes: { readonly tick: number; readonly handler: number } | undefined;
    if (want('coldstart')) {
      const runs = Math.max(3, cfg.runs * 3);
      log(`tick cold start: ${runs} fresh processes (import the tick bundle, first minute-mode invocation)`);
      const measured = await tickColdStart(runs);
      coldStart = summarize(measured.samples);
      bundleBytes = measured.bytes;
      figures.tickColdStartMs = coldStart;
      figures.bundleBytes = bundleBytes;
    }

    let claimPair: Pair | undefined;
    if (want('claim')) {
      log(`claim + publish, one tick: ${cfg.claimN} due jobs`);
      claimPair = throughputPair(
        await interleaved(cfg.runs, () => ticksetClaimPublish(redis, cfg.claimN), undefined, WARM),
      );
      figures.claimPublish = claimPair;
    }
    const claim = claimPair?.tickset;
    if (want('limiter')) {
      // The rate limiter's cost: the same claim + publish with a perSecond limit that never binds (a reserve
      // and a settle per claim call, the rate-limited claim path), side by side with no limit, alternating.
      log(`limiter cost: claim + publish of ${cfg.claimN} due jobs, no limit vs a limit that never binds`);
      const pair = throughputPair(
        await interleaved(
          cfg.runs,
          () => ticksetClaimPublish(redis, cfg.claimN),
          () => ticksetClaimPublish(redis, cfg.claimN, { [HANDLER]: { perSecond: 1_000_000_000 } }),
          WARM,
        ),
      );
      const ratio = pair.bullmq ? pair.bullmq.median / pair.tickset.median : undefined;
      log(
        `limiter cost: ${Math.round(pair.tickset.median)} jobs/s without, ${Math.round(pair.bullmq?.median ?? 0)} ` +
          `jobs/s with a non-binding limit (${ratio === undefined ? '?' : `${(ratio * 100).toFixed(1)} %`})`,
      );
      figures.limiterCost = { without: pair.tickset, withLimit: pair.bullmq, ratio };
    }
    let unparkPair: Pair | undefined;
    if (want('unpark')) {
      log(`unpark, one tick: ${cfg.claimN} parked jobs`);
      unparkPair = throughputPair(
        await interleaved(cfg.runs, () => ticksetUnpark(redis, cfg.claimN), undefined, WARM),
      );
      figures.unpark = unparkPair;
    }
    const unpark = unparkPair?.tickset;

    let e2e: Pair | undefined;
    if (want('e2e')) {
      log(`end to end: ${cfg.e2eN} due jobs, concurrency ${cfg.concurrency}`);
      // Each run in a process of its own, warmed up there (bench/e2e-isolated.ts).
      e2e = throughputPair(
        await interleaved(
          cfg.runs,
          () => isolatedEndToEnd('tickset', redis, cfg.e2eN, cfg.concurrency, cfg.e2eWarmups),
          () => isolatedEndToEnd('bullmq', redis, cfg.e2eN, cfg.concurrency, cfg.e2eWarmups),
        ),
      );
      figures.endToEnd = e2e;
    }

    // Batched delivery (startLocal's `batch` option) against the same Worker: in a fresh process without
    // warm-up (one measured run per process), and warmed up as the e2e figure is.
    const e2eBatched: { label: string; pair: Pair }[] = [];
    if (want('e2e-batched')) {
      for (const [label, warmups] of [
        ['fresh process, no warm-up', 0],
        ['warmed', cfg.e2eWarmups],
      ] as const) {
        log(`end to end, batched delivery (${label}): ${cfg.e2eN} due jobs, concurrency ${cfg.concurrency}`);
        const pair = throughputPair(
          await interleaved(
            cfg.runs,
            () => isolatedEndToEnd('tickset-batched', redis, cfg.e2eN, cfg.concurrency, warmups),
            () => isolatedEndToEnd('bullmq', redis, cfg.e2eN, cfg.concurrency, warmups),
          ),
        );
        e2eBatched.push({ label, pair });
      }
      figures.endToEndBatched = Object.fromEntries(e2eBatched.map((b) => [b.label, b.pair]));
    }

    const lateness: LatenessResult[] = [];
    if (want('lateness')) {
      for (const hz of cfg.latenessHz100 ? [10, 100] : [10]) {
        log(
          `lateness at hz ${hz}: ${cfg.latenessTasks} tasks over ${cfg.latenessSpreadMs / 1000} s, per system`,
        );
        lateness.push(await measureLateness(redis, cfg, hz));
      }
      figures.lateness = lateness.map((l) => ({
        hz: l.hz,
        tickset: l.tickset,
        bullmq: l.bullmq,
        loopDelayMs: l.loopDelayMs,
        samplesMs: {
          tickset: l.samples.tickset.map((v) => Math.round(v * 10) / 10),
          bullmq: l.samples.bullmq.map((v) => Math.round(v * 10) / 10),
        },
      }));
    }

    const backlog: Array<{
      size: number;
      perSecond: Summary;
      rssBefore: Summary;
      rssPeak: Summary;
      liveHeapMax: Summary;
      cpu: { redisUs: Summary; clientUs: Summary };
      runs: BacklogRun[];
    }> = [];
    if (want('backlog')) {
      for (const size of cfg.backlogSizes) {
        const runs = size === Math.max(...cfg.backlogSizes) ? cfg.backlogRunsLargest : cfg.runs;
        log(`backlog: ${size} due at once, ${runs} run(s), tick in a child process`);
        const list: BacklogRun[] = [];
        for (let i = 0; i < runs; i++) list.push(await ticksetBacklog(redis, size));
        backlog.push({
          size,
          perSecond: summarize(list.map((r) => r.perSecond)),
          rssBefore: summarize(list.map((r) => r.rssBefore)),
          rssPeak: summarize(list.map((r) => r.rssPeak)),
          liveHeapMax: summarize(list.map((r) => r.liveHeapMax)),
          cpu: cpuOf(list),
          runs: list,
        });
      }
      figures.backlog = backlog;
    }

    // -------------------------------------------------------------------------------------------
    // The table
    const rows: Row[] = [];
    if (batched) {
      const r = batched.tickset.median / (batched.bullmq?.median ?? Number.NaN);
      rows.push({
        figure: `schedule, batched (${cfg.batchSize}/batch, ${cfg.batchesInFlight} in flight)`,
        unit: 'jobs/s',
        tickset: cell(batched.tickset, int),
        bullmq: cell(batched.bullmq, int),
        ratio: ratio(batched.tickset, batched.bullmq),
        target: '>= 100,000 and >= 7x',
        met: yes(
          batched.tickset.median >= 100_000 && r >= 7,
          `${int(batched.tickset.median)}/s = ${Math.round(batched.tickset.median / 1000)}% of 100k, ${r.toFixed(1)}x`,
        ),
      });
    }
    if (single) {
      const r = single.tickset.median / (single.bullmq?.median ?? Number.NaN);
      rows.push({
        figure: `schedule, single, ${cfg.singleInFlight} in flight`,
        unit: 'jobs/s',
        tickset: cell(single.tickset, int),
        bullmq: cell(single.bullmq, int),
        ratio: ratio(single.tickset, single.bullmq),
        target: '>= 2x',
        met: yes(r >= 2, `${r.toFixed(2)}x`),
      });
    }
    if (latencyLoaded) {
      for (const p of ['p50', 'p99'] as const) {
        rows.push({
          figure: `schedule latency ${p}, ${cfg.singleInFlight} in flight`,
          unit: 'ms',
          tickset: ms1(latencyLoaded.tickset[p]),
          bullmq: ms1(latencyLoaded.bullmq[p]),
          ratio: `${(latencyLoaded.tickset[p] / latencyLoaded.bullmq[p]).toFixed(2)}x`,
          target: '(reported)',
          met: '',
        });
      }
    }
    if (latencyIdle) {
      for (const p of ['p50', 'p99'] as const) {
        rows.push({
          figure: `schedule latency ${p}, 1 in flight`,
          unit: 'ms',
          tickset: ms1(latencyIdle.tickset[p]),
          bullmq: ms1(latencyIdle.bullmq[p]),
          ratio: `${(latencyIdle.tickset[p] / latencyIdle.bullmq[p]).toFixed(2)}x`,
          target: '(reported)',
          met: '',
        });
      }
    }
    if (memory) {
      const r = memory.tickset.median / (memory.bullmq?.median ?? Number.NaN);
      rows.push({
        figure: 'Redis memory per delayed job (100-byte payload)',
        unit: 'bytes',
        tickset: cell(memory.tickset, int),
        bullmq: cell(memory.bullmq, int),
        ratio: ratio(memory.tickset, memory.bullmq),
        target: '<= 300 B and <= 0.35x',
        met: yes(
          memory.tickset.median <= 300 && r <= 0.35,
          `${int(memory.tickset.median)} B, ${r.toFixed(2)}x`,
        ),
      });
    }
    if (memoryQueued) {
      rows.push({
        figure: 'Redis memory per job due in 5 min (tickset: sorted set, not parked)',
        unit: 'bytes',
        tickset: cell(memoryQueued.tickset, int),
        bullmq: cell(memoryQueued.bullmq, int),
        ratio: ratio(memoryQueued.tickset, memoryQueued.bullmq),
        target: '(reported)',
        met: '',
      });
    }
    if (claim) {
      rows.push({
        figure: 'claim + publish, one tick, no-op publisher',
        unit: 'jobs/s',
        tickset: cell(claim, int),
        bullmq: '—',
        ratio: ceiling ? `${Math.round((claim.median / ceiling.median) * 100)}% of bare Lua` : '—',
        target: '>= 80,000',
        met: yes(claim.median >= 80_000, `${Math.round((claim.median / 80_000) * 100)}% of target`),
      });
    }
    if (unpark) {
      rows.push({
        figure: 'unpark: parked jobs moved into delayed, one tick (before promote + claim)',
        unit: 'jobs/s',
        tickset: cell(unpark, int),
        bullmq: '—',
        ratio: '—',
        target: '(reported)',
        met: '',
      });
    }
    if (e2e) {
      const r = e2e.tickset.median / (e2e.bullmq?.median ?? Number.NaN);
      rows.push({
        figure: `end to end, no-op handlers, concurrency ${cfg.concurrency} (startLocal vs Worker)`,
        unit: 'jobs/s',
        tickset: cell(e2e.tickset, int),
        bullmq: cell(e2e.bullmq, int),
        ratio: ratio(e2e.tickset, e2e.bullmq),
        target: '>= 3x',
        met: yes(r >= 3, `${r.toFixed(2)}x`),
      });
    }
    for (const { label, pair } of e2eBatched) {
      const r = pair.tickset.median / (pair.bullmq?.median ?? Number.NaN);
      rows.push({
        figure: `end to end with batched delivery (100 per batch), ${label}, concurrency ${cfg.concurrency}`,
        unit: 'jobs/s',
        tickset: cell(pair.tickset, int),
        bullmq: cell(pair.bullmq, int),
        ratio: ratio(pair.tickset, pair.bullmq),
        target: '>= 5x',
        met: yes(r >= 5, `${r.toFixed(2)}x`),
      });
    }
    for (const l of lateness) {
      for (const p of ['p50', 'p95', 'p99', 'max'] as const) {
        const t = l.tickset[p];
        const b = l.bullmq[p];
        const r = t.median / b.median;
        rows.push({
          figure: `lateness ${p}, hz ${l.hz} (${cfg.latenessTasks} tasks over ${cfg.latenessSpreadMs / 1000} s)`,
          unit: 'ms',
          tickset: cell(t, ms1),
          bullmq: cell(b, ms1),
          ratio: ratio(t, b),
          target: p === 'p99' && l.hz === 10 ? '<= 25 ms and <= 0.25x' : '',
          met:
            p === 'p99' && l.hz === 10
              ? yes(t.median <= 25 && r <= 0.25, `${ms1(t.median)} ms, ${r.toFixed(2)}x`)
              : '',
        });
      }
      const maxDelay = (list: readonly LoopDelay[]) => summarize(list.map((d) => d.max));
      rows.push({
        figure: `bench process event-loop stall (max), hz ${l.hz} lateness runs`,
        unit: 'ms',
        tickset: cell(maxDelay(l.loopDelayMs.tickset), ms1),
        bullmq: cell(maxDelay(l.loopDelayMs.bullmq), ms1),
        ratio: '—',
        target: '(context: a stall delays every due task)',
        met: '',
      });
    }
    if (backlog.length > 0) {
      const smallest = backlog[0]!;
      const largest = backlog[backlog.length - 1]!;
      for (const b of backlog) {
        const isLargest = b === largest && backlog.length > 1;
        const rel = b.perSecond.median / smallest.perSecond.median;
        rows.push({
          figure: `backlog ${compact(b.size)} due at once: claim + publish`,
          unit: 'jobs/s',
          tickset: cell(b.perSecond, int),
          bullmq: '—',
          ratio: `${(rel * 100).toFixed(0)}% of ${compact(smallest.size)}`,
          target: isLargest ? 'within 20% of smallest' : '',
          met: isLargest ? yes(rel >= 0.8, `${(rel * 100).toFixed(0)}%`) : '',
        });
      }
      // Flat: what the tick keeps does not grow with the backlog. The live heap (heapUsed right after a major
      // GC, the largest such during the pass) is what it keeps: bounded by the batches in flight (claim
      // calls ahead + publish calls, 1,000 jobs each), so the target is the smallest backlog's + 8 MiB.
      // RSS is reported as well; its growth also holds garbage V8 has not collected yet, which grows with
      // how long the pass runs (V8 raises its old-space limit between major GCs), not with what it keeps.
      const mb = (v: number) => (v / 2 ** 20).toFixed(0);
      for (const b of backlog) {
        rows.push({
          figure: `backlog ${compact(b.size)}: tick RSS before → peak`,
          unit: 'MiB',
          tickset: `${mb(b.rssBefore.median)} → ${mb(b.rssPeak.median)}`,
          bullmq: '—',
          ratio: `+${((b.rssPeak.median - b.rssBefore.median) / 2 ** 20).toFixed(0)} MiB`,
          target: '(reported: includes uncollected garbage)',
          met: '',
        });
      }
      for (const b of backlog) {
        const isLargest = b === largest && backlog.length > 1;
        const live = b.liveHeapMax.median / 2 ** 20;
        const base = smallest.liveHeapMax.median / 2 ** 20;
        rows.push({
          figure: `backlog ${compact(b.size)}: tick live heap (largest after a major GC)`,
          unit: 'MiB',
          tickset: cell(b.liveHeapMax, (v) => (v / 2 ** 20).toFixed(1)),
          bullmq: '—',
          ratio: `${live - base >= 0 ? '+' : ''}${(live - base).toFixed(1)} MiB vs ${compact(smallest.size)}`,
          target: isLargest ? `flat: <= ${compact(smallest.size)}'s + 8 MiB (batches in flight)` : '',
          met: isLargest ? yes(live <= base + 8, `+${(live - base).toFixed(1)} MiB`) : '',
        });
      }
    }
    if (ceiling) {
      rows.push({
        figure: 'bare Lua ZSET move (ZRANGEBYSCORE + ZADD + ZREM, 1000/call)',
        unit: 'jobs/s',
        tickset: cell(ceiling, int),
        bullmq: '—',
        ratio: '—',
        target: '(reference ceiling)',
        met: '',
      });
    }

    if (coldStart && bundleBytes) {
      rows.push({
        figure: `tick cold start (bundle ${int(bundleBytes.tick)} B; import + first pass, fresh process)`,
        unit: 'ms',
        tickset: cell(coldStart, (v) => v.toFixed(0)),
        bullmq: '—',
        ratio: '—',
        target: '',
        met: '',
      });
    }

    const table = markdownTable(rows);
    results.table = rows;

    // CPU per job: the figure that survives a busy machine (see bench/cpu.ts).
    const cpuRows: string[] = [
      '| figure | tickset Redis µs/job | tickset client µs/job | BullMQ Redis µs/job | BullMQ client µs/job |',
      '|---|---:|---:|---:|---:|',
    ];
    const us = (s: Summary | undefined) => (s ? s.median.toFixed(1) : '—');
    const cpuRow = (name: string, p: Pair | undefined) => {
      if (!p?.cpu) return;
      cpuRows.push(
        `| ${name} | ${us(p.cpu.tickset.redisUs)} | ${us(p.cpu.tickset.clientUs)} | ${us(p.cpu.bullmq?.redisUs)} | ${us(p.cpu.bullmq?.clientUs)} |`,
      );
    };
    cpuRow('schedule, batched', batched);
    cpuRow(`schedule, single, ${cfg.singleInFlight} in flight`, single);
    cpuRow('claim + publish, one tick (client = tick process)', claimPair);
    cpuRow('unpark, one tick (client = tick process)', unparkPair);
    cpuRow('end to end (client = whole local runtime / Worker)', e2e);
    for (const b of backlog)
      cpuRow(`backlog ${compact(b.size)} (client = tick child)`, {
        tickset: b.perSecond,
        cpu: { tickset: b.cpu },
      });
    cpuRow('bare Lua ZSET move', ceilingPair);
    const cpuTable = cpuRows.join('\n');
    results.cpuTable = cpuTable;
    results.figures = figures;
    results.loadAverageAtEnd = loadavg().map((v) => Number(v.toFixed(2)));
    results.durationSeconds = Math.round((Date.now() - started) / 1000);
    results.finishedAt = new Date().toISOString();

    // -------------------------------------------------------------------------------------------
    // Charts
    // A quick or partial run (BENCH_QUICK, BENCH_ONLY) leaves the checked-in results and charts alone.
    const full = !only && !cfg.quick;
    if (full) writeCharts(results);
    const resultsFile = full
      ? join(ROOT, 'bench', 'results.json')
      : join(tmpdir(), `tickset-bench-${cfg.quick ? 'quick' : 'partial'}.json`);
    writeFileSync(resultsFile, `${JSON.stringify(results, null, 1)}\n`);
    log(`results: ${resultsFile}`);
    process.stdout.write(
      `\n${table}\n\nCPU per job (medians; robust to other load on the machine):\n\n${cpuTable}\n\n`,
    );
    log(
      `done in ${results.durationSeconds} s; load average ${loadStart.map((v) => v.toFixed(2)).join(' ')} → ${(results.loadAverageAtEnd as number[]).join(' ')}`,
    );
  } finally {
    await stopRedis();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
