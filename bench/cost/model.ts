/**
 * The cost model behind `npm run cost` (scripts/cost.ts): dollars per month from the deployment profile, the
 * volume, and figures the benchmark measured (bench/results.json) or, where nothing is measured yet, stated
 * assumptions. Pure functions: no I/O, prices passed in (bench/cost/prices.ts is the only price table).
 *
 * Batch fill. Tasks of one handler arrive at `r` tasks/s (the monthly volume spread evenly over the month
 * and the handlers). The tick publishes what is due at each pass: every `p` seconds (about 1 s in `second`
 * precision, 60 s in `minute`). One PutEvents entry carries tasks of one handler and one shard, at most
 * `cap` of them: cap = min(maxTasksPerEntry, floor((64 KB − envelope bytes) / task bytes)), so an entry stays
 * in one 64 KB billing chunk. With independent arrivals the tasks of one handler+shard due in one pass are
 * N ~ Poisson(λ), λ = r · p / shards, and that pass sends ceil(N / cap) entries. So
 *
 *   entries per task = E[ceil(N / cap)] / λ
 *
 * which is 1 without batching (cap = 1), (1 − e^−λ) / λ when the cap never binds (1 for λ → 0: a task
 * alone in its pass is an entry alone), and → 1 / cap for large λ. A backlog drain fills every entry
 * (1 / cap); an arrival rate fills them only this much, which is why the rate, not the drain, sets the bill.
 */
import { HOURS_PER_MONTH, type PriceTable, SECONDS_PER_MONTH } from './prices.js';

export type Precision = 'second' | 'minute';

/** Where a figure comes from: printed next to it. */
export type Provenance = 'measured' | 'assumed' | 'flag' | 'profile';

export interface Figure {
  readonly value: number;
  readonly provenance: Provenance;
  /** What was measured or assumed, e.g. "bench/results.json claimPublish client µs/job". */
  readonly note: string;
}

/** A deployment: what it runs all month, whatever the volume. */
export interface Profile {
  readonly name: string;
  readonly description: string;
  readonly cacheNodes: number;
  readonly cacheNodePrice: 'cacheT4gMicroValkeyHour' | 'cacheT4gSmallValkeyHour';
  readonly natGateways: number;
  readonly interfaceEndpoints: number;
  readonly endpointAzs: number;
  readonly tickMemoryMb: number;
  /** Seconds each tick invocation runs (one invocation per minute). */
  readonly tickSecondsPerInvocation: Readonly<Record<Precision, Figure>>;
  readonly alarms: number;
  readonly customMetrics: number;
  readonly dashboards: number;
  readonly kmsKeys: number;
  readonly secrets: number;
  /** Batched delivery (many tasks per PutEvents entry). */
  readonly batched: boolean;
}

/** What each task costs to carry, from measurements or assumptions. */
export interface TaskFigures {
  /** Bytes one task adds to an entry (payload, id, header). */
  readonly taskBytes: Figure;
  /** Bytes of an entry besides its tasks (source, detail-type, bus, envelope JSON). */
  readonly entryEnvelopeBytes: Figure;
  /** Most tasks in one entry (a setting of batched delivery). */
  readonly maxTasksPerEntry: Figure;
  /** CloudWatch Logs bytes per entry delivered (handler wrapper lines, EMF metrics line). */
  readonly logBytesPerEntry: Figure;
  /** CloudWatch Logs bytes per task on top of its entry's. */
  readonly logBytesPerTask: Figure;
  /** Tick CPU per task (claim + publish), microseconds. */
  readonly tickCpuUsPerTask: Figure;
  /** Redis CPU per task (schedule + claim), microseconds: the cache's load, not a price on node-based caches. */
  readonly redisUsPerTask: Figure;
}

export interface Scenario {
  readonly tasksPerMonth: number;
  readonly handlers: number;
  readonly shards: number;
  readonly precision: Precision;
  readonly profile: Profile;
  readonly batched: boolean;
  /** Seconds between tick passes that publish: 1 (`second`) or 60 (`minute`) unless set. */
  readonly passSeconds: number;
  readonly figures: TaskFigures;
}

export interface Line {
  readonly item: string;
  readonly calculation: string;
  /** Dollars per month (fixed lines) or per million tasks (per-task lines). */
  readonly usd: number;
}

/** 64 KB: an EventBridge entry is billed per started 64 KB chunk. */
export const EVENTBRIDGE_CHUNK_BYTES = 64 * 1024;
/** One tick invocation per minute (EventBridge Scheduler / rule rate(1 minute)). */
export const TICK_INVOCATIONS_PER_MONTH = 60 * HOURS_PER_MONTH;

/** `100M`, `1.5B`, `250k`, `1e6`, `2000000` → a number of tasks. */
export function parseCount(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmMbB]?)\s*$/.exec(text.replace(/[_,]/g, ''));
  if (!match)
    throw new Error(`not a count: ${JSON.stringify(text)} (expected e.g. 100M, 1.5B, 250k, 2000000)`);
  const scale = { '': 1, k: 1e3, m: 1e6, b: 1e9 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'b'];
  return Number(match[1]) * scale;
}

/** Most tasks per entry: 1 unbatched, else the count cap and what fits one 64 KB chunk. */
export function tasksPerEntryCap(batched: boolean, figures: TaskFigures): number {
  if (!batched) return 1;
  const bySize = Math.floor(
    (EVENTBRIDGE_CHUNK_BYTES - figures.entryEnvelopeBytes.value) / figures.taskBytes.value,
  );
  return Math.max(1, Math.min(Math.floor(figures.maxTasksPerEntry.value), bySize));
}

/**
 * E[ceil(N / cap)] / λ for N ~ Poisson(λ): PutEvents entries per task (see the module comment). λ ≤ 0 has
 * no tasks; the limit λ → 0 is 1.
 */
export function entriesPerTask(lambda: number, cap: number): number {
  if (!(lambda > 0)) return 1;
  if (cap <= 1) return 1;
  const spread = 12 * Math.sqrt(lambda) + 30;
  const last = Math.ceil(lambda + spread);
  const first = Math.max(0, Math.floor(lambda - spread));
  const logLambda = Math.log(lambda);
  let logP = -lambda; // log P(N = 0)
  let expected = 0;
  for (let n = 1; n <= last; n++) {
    logP += logLambda - Math.log(n);
    if (n >= first) expected += Math.exp(logP) * Math.ceil(n / cap);
  }
  return expected / lambda;
}

/** Arrivals per pass for one handler and shard (λ). */
export function arrivalsPerPass(scenario: Scenario): number {
  const perHandlerPerSecond = scenario.tasksPerMonth / scenario.handlers / SECONDS_PER_MONTH;
  return (perHandlerPerSecond * scenario.passSeconds) / scenario.shards;
}

/** Dollars: 2 decimals, 4 below $1 (per-million figures are cents). */
const money = (usd: number): string => `$${usd.toFixed(usd !== 0 && Math.abs(usd) < 1 ? 4 : 2)}`;
const count = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 4 });

/** The fixed monthly lines of a scenario's profile and precision. */
export function fixedCost(scenario: Scenario, prices: PriceTable): { lines: Line[]; total: number } {
  const p = scenario.profile;
  const lines: Line[] = [];
  const add = (item: string, calculation: string, usd: number): void => {
    if (usd !== 0) lines.push({ item, calculation, usd });
  };
  const node = prices[p.cacheNodePrice];
  add(
    `cache, ${p.cacheNodes} x ${p.cacheNodePrice === 'cacheT4gMicroValkeyHour' ? 'cache.t4g.micro' : 'cache.t4g.small'} Valkey`,
    `${p.cacheNodes} x ${HOURS_PER_MONTH} h x ${money(node.usd)}`,
    p.cacheNodes * HOURS_PER_MONTH * node.usd,
  );
  add(
    'NAT gateway',
    `${p.natGateways} x ${HOURS_PER_MONTH} h x ${money(prices.natGatewayHour.usd)}`,
    p.natGateways * HOURS_PER_MONTH * prices.natGatewayHour.usd,
  );
  add(
    'interface endpoints',
    `${p.interfaceEndpoints} x ${p.endpointAzs} AZ x ${HOURS_PER_MONTH} h x ${money(prices.interfaceEndpointHourPerAz.usd)}`,
    p.interfaceEndpoints * p.endpointAzs * HOURS_PER_MONTH * prices.interfaceEndpointHourPerAz.usd,
  );
  const seconds = p.tickSecondsPerInvocation[scenario.precision].value;
  const gbSeconds = TICK_INVOCATIONS_PER_MONTH * seconds * (p.tickMemoryMb / 1024);
  add(
    `tick, ${scenario.precision} precision, ${p.tickMemoryMb} MB`,
    `${count(TICK_INVOCATIONS_PER_MONTH)} invocations x ${seconds} s x ${p.tickMemoryMb / 1024} GB = ${count(gbSeconds)} GB-s x ${prices.lambdaArmGBSecond.usd} + requests`,
    gbSeconds * prices.lambdaArmGBSecond.usd + TICK_INVOCATIONS_PER_MONTH * prices.lambdaRequest.usd,
  );
  add(
    'alarms, custom metrics, dashboards',
    `${p.alarms} x ${money(prices.alarm.usd)} + ${p.customMetrics} x ${money(prices.customMetric.usd)} + ${p.dashboards} x ${money(prices.dashboard.usd)}`,
    p.alarms * prices.alarm.usd +
      p.customMetrics * prices.customMetric.usd +
      p.dashboards * prices.dashboard.usd,
  );
  add(
    'KMS keys, secrets',
    `${p.kmsKeys} x ${money(prices.kmsKey.usd)} + ${p.secrets} x ${money(prices.secret.usd)}`,
    p.kmsKeys * prices.kmsKey.usd + p.secrets * prices.secret.usd,
  );
  return { lines, total: lines.reduce((sum, l) => sum + l.usd, 0) };
}

export interface PerTaskCost {
  /** λ: tasks of one handler and shard due per pass. */
  readonly arrivalsPerPass: number;
  readonly tasksPerEntryCap: number;
  readonly entriesPerTask: number;
  /** tickset's own cost per million tasks, by line. */
  readonly lines: Line[];
  /** Sum of `lines`: the overhead per million tasks. */
  readonly overheadPerMillion: number;
  /** The handler Lambda's invocations (requests only) per million tasks: one per entry. */
  readonly handlerRequestsPerMillion: number;
  /** The cache's CPU at this volume, as a share of one core (node-based caches: load, not price). */
  readonly cacheCoreShare: number;
}

/** tickset's cost per million tasks for a scenario. */
export function perTaskCost(scenario: Scenario, prices: PriceTable): PerTaskCost {
  const f = scenario.figures;
  const lambda = arrivalsPerPass(scenario);
  const cap = tasksPerEntryCap(scenario.batched, f);
  const entries = entriesPerTask(lambda, cap);
  const fill = 1 / entries;
  const entryBytes = f.entryEnvelopeBytes.value + Math.min(fill, cap) * f.taskBytes.value;
  const chunks = Math.max(1, Math.ceil(entryBytes / EVENTBRIDGE_CHUNK_BYTES));
  const M = 1e6;
  const lines: Line[] = [];
  lines.push({
    item: 'EventBridge PutEvents',
    calculation: `${entries.toFixed(4)} entries/task x ${chunks} chunk x ${money(prices.eventBridgeEvent.usd * M)}/M`,
    usd: entries * chunks * prices.eventBridgeEvent.usd * M,
  });
  const logBytes = entries * f.logBytesPerEntry.value + f.logBytesPerTask.value;
  lines.push({
    item: 'CloudWatch Logs',
    calculation: `(${entries.toFixed(4)} x ${f.logBytesPerEntry.value} B/entry + ${f.logBytesPerTask.value} B/task) = ${logBytes.toFixed(1)} B/task x ${money(prices.logsIngestionPerGB.usd)}/GB`,
    usd: (logBytes * M * prices.logsIngestionPerGB.usd) / 1e9,
  });
  const endpointBytes = entries * f.entryEnvelopeBytes.value + f.taskBytes.value;
  const viaEndpoint = scenario.profile.interfaceEndpoints > 0;
  lines.push({
    item: viaEndpoint ? 'interface endpoint data' : 'NAT gateway data',
    calculation: `${endpointBytes.toFixed(0)} B/task to EventBridge x ${money((viaEndpoint ? prices.interfaceEndpointPerGB : prices.natGatewayPerGB).usd)}/GB`,
    usd:
      (endpointBytes * M * (viaEndpoint ? prices.interfaceEndpointPerGB : prices.natGatewayPerGB).usd) / 1e9,
  });
  const tickGbSeconds = f.tickCpuUsPerTask.value * 1e-6 * (scenario.profile.tickMemoryMb / 1024);
  lines.push(
    scenario.precision === 'second'
      ? {
          item: 'tick work',
          calculation: `${f.tickCpuUsPerTask.value.toFixed(2)} µs/task inside the tick's fixed running time (second precision runs all minute)`,
          usd: 0,
        }
      : {
          item: 'tick work',
          calculation: `${f.tickCpuUsPerTask.value.toFixed(2)} µs/task x ${scenario.profile.tickMemoryMb / 1024} GB x ${prices.lambdaArmGBSecond.usd}/GB-s`,
          usd: tickGbSeconds * M * prices.lambdaArmGBSecond.usd,
        },
  );
  const overheadPerMillion = lines.reduce((sum, l) => sum + l.usd, 0);
  const tasksPerSecond = scenario.tasksPerMonth / SECONDS_PER_MONTH;
  return {
    arrivalsPerPass: lambda,
    tasksPerEntryCap: cap,
    entriesPerTask: entries,
    lines,
    overheadPerMillion,
    handlerRequestsPerMillion: entries * prices.lambdaRequest.usd * M,
    cacheCoreShare: (tasksPerSecond * f.redisUsPerTask.value) / 1e6,
  };
}

/** EventBridge Scheduler's bill for a month's tasks (invocations only; the handler's requests added apart). */
export function schedulerCost(tasksPerMonth: number, prices: PriceTable): number {
  const billable = Math.max(0, tasksPerMonth - prices.schedulerFreeInvocationsPerMonth.usd);
  return billable * prices.schedulerInvocation.usd;
}

export interface CompareRow {
  readonly tasksPerMonth: number;
  /** tickset: fixed + overhead + the handler's invocation requests (one per entry). */
  readonly tickset: number;
  /** Scheduler: its invocations + the handler's invocation requests (one per task). */
  readonly scheduler: number;
  readonly entriesPerTask: number;
}

/** The scenario at other volumes (the batch fill follows each volume's rate), against EventBridge Scheduler. */
export function compare(scenario: Scenario, prices: PriceTable, volumes: readonly number[]): CompareRow[] {
  const fixed = fixedCost(scenario, prices).total;
  return volumes.map((tasksPerMonth) => {
    const at = perTaskCost({ ...scenario, tasksPerMonth }, prices);
    const millions = tasksPerMonth / 1e6;
    return {
      tasksPerMonth,
      tickset: fixed + millions * (at.overheadPerMillion + at.handlerRequestsPerMillion),
      scheduler: schedulerCost(tasksPerMonth, prices) + tasksPerMonth * prices.lambdaRequest.usd,
      entriesPerTask: at.entriesPerTask,
    };
  });
}

export const COMPARE_VOLUMES: readonly number[] = [1e6, 1e7, 1e8, 1e9];

export { money };
