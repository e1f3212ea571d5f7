/**
 * `npm run cost -- --tasks-per-month 100M --handlers 4 --precision second --profile lean [--compare]`
 *
 * Prints what tickset costs per month for a volume: the fixed cost and the overhead per million tasks on
 * lines of their own, each line's arithmetic, and where every input comes from (measured by the benchmark,
 * bench/results.json, or assumed). `--compare` adds the table against EventBridge Scheduler at 1 M, 10 M,
 * 100 M and 1 B tasks per month. The model is bench/cost/model.ts; the prices are bench/cost/prices.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BATCHED_LOG_BYTES_PER_TASK,
  type BenchResults,
  type MeasuredInputs,
  PROFILES,
  taskFigures,
} from '../bench/cost/inputs.js';
import {
  COMPARE_VOLUMES,
  compare,
  type Figure,
  fixedCost,
  type Line,
  money,
  type Precision,
  parseCount,
  perTaskCost,
  type Scenario,
  type TaskFigures,
} from '../bench/cost/model.js';
import { PRICES, PRICES_AS_OF, PRICES_REGION } from '../bench/cost/prices.js';

const HELP = `usage: npm run cost -- [options]
  --tasks-per-month <n>      e.g. 100M, 1B, 250k (default 100M)
  --handlers <n>             handlers the tasks are spread over (default 4)
  --shards <n>               TICKSET_SHARDS (default 1)
  --precision <p>            second | minute (default second)
  --profile <p>              default | lean (default default)
  --batched / --unbatched    batched delivery on or off (default: the profile's)
  --pass-seconds <s>         seconds between publishing passes (default 1 second, 60 minute)
  --task-bytes <n>           bytes per task in an entry
  --max-tasks-per-entry <n>  most tasks per entry
  --log-bytes-per-entry <n>  CloudWatch Logs bytes per delivered entry
  --log-bytes-per-task <n>   CloudWatch Logs bytes per task on top of its entry's
  --tick-memory-mb <n>       tick Lambda memory
  --tick-seconds <s>         seconds per tick invocation (one per minute)
  --results <file>           benchmark results (default bench/results.json)
  --measured <file>          batched delivery's measured inputs (default bench/cost/measured.json,
                             written by npm run cost:measure)
  --compare                  add the table against EventBridge Scheduler at 1M, 10M, 100M, 1B tasks/month
`;

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got ${text}`);
  return value;
}

const byFlag = (value: number, flag: string): Figure => ({
  value,
  provenance: 'flag',
  note: `set by --${flag}`,
});

export function scenarioFromArgs(
  argv: readonly string[],
  results: BenchResults | undefined,
  measuredInputs?: MeasuredInputs,
): {
  scenario: Scenario;
  compare: boolean;
} {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'tasks-per-month': { type: 'string', default: '100M' },
      handlers: { type: 'string', default: '4' },
      shards: { type: 'string', default: '1' },
      precision: { type: 'string', default: 'second' },
      profile: { type: 'string', default: 'default' },
      batched: { type: 'boolean' },
      unbatched: { type: 'boolean' },
      'pass-seconds': { type: 'string' },
      'task-bytes': { type: 'string' },
      'max-tasks-per-entry': { type: 'string' },
      'log-bytes-per-entry': { type: 'string' },
      'log-bytes-per-task': { type: 'string' },
      'tick-memory-mb': { type: 'string' },
      'tick-seconds': { type: 'string' },
      results: { type: 'string' },
      measured: { type: 'string' },
      compare: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const precision = values.precision as Precision;
  if (precision !== 'second' && precision !== 'minute')
    throw new Error('--precision must be second or minute');
  const base = PROFILES[values.profile as 'default' | 'lean'];
  if (!base) throw new Error('--profile must be default or lean');
  const batched = values.unbatched ? false : values.batched ? true : base.batched;
  const tickMemoryMb = positive('tick-memory-mb', values['tick-memory-mb']);
  const tickSeconds = positive('tick-seconds', values['tick-seconds']);
  const profile = {
    ...base,
    ...(tickMemoryMb ? { tickMemoryMb } : {}),
    ...(tickSeconds
      ? {
          tickSecondsPerInvocation: {
            ...base.tickSecondsPerInvocation,
            [precision]: byFlag(tickSeconds, 'tick-seconds'),
          },
        }
      : {}),
  };
  const measured = taskFigures(results, measuredInputs, batched);
  type SizeFlag = 'task-bytes' | 'max-tasks-per-entry' | 'log-bytes-per-entry' | 'log-bytes-per-task';
  const override = (flag: SizeFlag, fallback: Figure): Figure => {
    const text = values[flag];
    const value = flag.startsWith('log-') ? nonNegative(flag, text) : positive(flag, text);
    return value === undefined ? fallback : byFlag(value, flag);
  };
  const figures: TaskFigures = {
    ...measured,
    taskBytes: override('task-bytes', measured.taskBytes),
    maxTasksPerEntry: override('max-tasks-per-entry', measured.maxTasksPerEntry),
    logBytesPerEntry: override('log-bytes-per-entry', measured.logBytesPerEntry),
    logBytesPerTask: override(
      'log-bytes-per-task',
      batched && measuredInputs === undefined ? BATCHED_LOG_BYTES_PER_TASK : measured.logBytesPerTask,
    ),
  };
  const passSeconds = positive('pass-seconds', values['pass-seconds']) ?? (precision === 'second' ? 1 : 60);
  return {
    scenario: {
      tasksPerMonth: parseCount(values['tasks-per-month']),
      handlers: Math.floor(positive('handlers', values.handlers) ?? 4),
      shards: Math.floor(positive('shards', values.shards) ?? 1),
      precision,
      profile,
      batched,
      passSeconds,
      figures,
    },
    compare: values.compare,
  };
}

function nonNegative(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number >= 0, got ${text}`);
  return value;
}

const count = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

function table(lines: readonly Line[]): string[] {
  const itemWidth = Math.max(...lines.map((l) => l.item.length));
  return lines.map((l) => `  ${l.item.padEnd(itemWidth)}  ${money(l.usd).padStart(9)}   ${l.calculation}`);
}

function provenance(figure: Figure): string {
  if (figure.provenance === 'assumed') return `assumed, not measured: ${figure.note}`;
  if (figure.provenance === 'measured') return `measured: ${figure.note}`;
  return figure.note;
}

/** The report for a scenario, as lines of text. */
export function report(scenario: Scenario, withCompare: boolean): string[] {
  const fixed = fixedCost(scenario, PRICES);
  const perTask = perTaskCost(scenario, PRICES);
  const millions = scenario.tasksPerMonth / 1e6;
  const p = scenario.profile;
  const out: string[] = [];
  out.push(
    `tickset cost model: ${PRICES_REGION} on-demand prices as of ${PRICES_AS_OF} (bench/cost/prices.ts: check them before quoting)`,
  );
  out.push(
    `scenario: ${count(scenario.tasksPerMonth)} tasks/month over ${scenario.handlers} handler(s), ${scenario.shards} shard(s), ` +
      `${scenario.precision} precision, profile ${p.name}, ${scenario.batched ? 'batched delivery' : 'one task per entry'}`,
  );
  out.push(`  ${p.description}`);
  out.push('');
  out.push('fixed, per month');
  out.push(...table(fixed.lines));
  out.push(`fixed cost per month: ${money(fixed.total)}`);
  out.push('');
  out.push('per million tasks');
  out.push(
    `  batch fill: ${perTask.arrivalsPerPass.toFixed(2)} tasks of one handler and shard due per pass (every ${scenario.passSeconds} s); ` +
      `at most ${perTask.tasksPerEntryCap} per entry; ${perTask.entriesPerTask.toFixed(4)} entries per task ` +
      `(${(1 / perTask.entriesPerTask).toFixed(2)} tasks per entry)`,
  );
  out.push(...table(perTask.lines));
  out.push(`overhead per million tasks: ${money(perTask.overheadPerMillion)}`);
  out.push(
    `  not in the overhead: the handler's invocations, one per entry: ${money(perTask.handlerRequestsPerMillion)} per million tasks ` +
      '(requests only; its duration is your code)',
  );
  out.push(
    `  cache load at this volume: ${(perTask.cacheCoreShare * 100).toFixed(2)}% of one core (node-based: inside the fixed cost)`,
  );
  out.push(
    `total at this volume: ${money(fixed.total + millions * perTask.overheadPerMillion)} per month ` +
      `(+ ${money(millions * perTask.handlerRequestsPerMillion)} handler invocations)`,
  );
  out.push('');
  out.push('inputs');
  const f = scenario.figures;
  const rows: Array<[string, Figure]> = [
    ['task bytes', f.taskBytes],
    ['entry envelope bytes', f.entryEnvelopeBytes],
    ['max tasks per entry', f.maxTasksPerEntry],
    ['log bytes per entry', f.logBytesPerEntry],
    ['log bytes per task', f.logBytesPerTask],
    ['tick CPU µs per task', f.tickCpuUsPerTask],
    ['Redis CPU µs per task', f.redisUsPerTask],
    [`tick seconds per invocation (${scenario.precision})`, p.tickSecondsPerInvocation[scenario.precision]],
  ];
  for (const [name, figure] of rows) {
    out.push(`  ${name}: ${Number(figure.value.toFixed(2))} (${provenance(figure)})`);
  }
  if (withCompare) {
    out.push('');
    out.push(
      'against EventBridge Scheduler ($1/M after 14 M free); both columns include the handler invocations (tickset: one per entry, Scheduler: one per task), neither the handler duration',
    );
    out.push('| tasks per month | tickset | tickset per M | EventBridge Scheduler | entries per task |');
    out.push('|---|---:|---:|---:|---:|');
    for (const row of compare(scenario, PRICES, COMPARE_VOLUMES)) {
      const label =
        row.tasksPerMonth >= 1e9 ? `${row.tasksPerMonth / 1e9} B` : `${row.tasksPerMonth / 1e6} M`;
      out.push(
        `| ${label} | ${money(row.tickset)} | ${money(row.tickset / (row.tasksPerMonth / 1e6))} | ${money(row.scheduler)} | ${row.entriesPerTask.toFixed(4)} |`,
      );
    }
  }
  return out;
}

function readResults(path: string): BenchResults | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as BenchResults;
}

function readMeasured(path: string): MeasuredInputs | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as MeasuredInputs;
}

function main(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const resultsIndex = argv.indexOf('--results');
  const resultsPath =
    resultsIndex >= 0 && argv[resultsIndex + 1]
      ? argv[resultsIndex + 1]!
      : fileURLToPath(new URL('../bench/results.json', import.meta.url));
  try {
    const measuredIndex = argv.indexOf('--measured');
    const measuredPath =
      measuredIndex >= 0 && argv[measuredIndex + 1]
        ? argv[measuredIndex + 1]!
        : fileURLToPath(new URL('../bench/cost/measured.json', import.meta.url));
    const { scenario, compare: withCompare } = scenarioFromArgs(
      argv,
      readResults(resultsPath),
      readMeasured(measuredPath),
    );
    process.stdout.write(`${report(scenario, withCompare).join('\n')}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`cost: ${(error as Error).message}\n${HELP}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
