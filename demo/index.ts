/**
 * `npm start`: tickset end to end on your machine. Finds (or starts) Redis, schedules a realistic mix of
 * tasks in a throw-away namespace, runs them through `startLocal` with a live status line, and prints a
 * summary after ~20 s (or on Ctrl-C with --follow). Leaves no keys behind.
 *
 *   npm start -- [--redis redis://host:port] [--duration 20] [--follow]
 */
import { randomBytes } from 'node:crypto';
import { Command, CommanderError } from 'commander';
import { Scheduler } from '../src/client/scheduler.js';
import { listJobs } from '../src/core/inspect.js';
import { startLocal } from '../src/local/start-local.js';
import { redactUrl } from '../src/observability/logger.js';
import { DemoError, type DemoRedis, deleteNamespace, obtainRedis } from './redis.js';
import { HANDLERS, RATE_LIMITS, scheduleScenario } from './scenario.js';
import { StatusReporter } from './status.js';
import { summary } from './summary.js';
import { Tracker } from './tracker.js';

interface DemoOptions {
  readonly redis?: string;
  readonly duration: string;
  readonly follow?: boolean;
}

function parseArgs(argv: readonly string[]): DemoOptions {
  const program = new Command('tickset-demo')
    .description('Runs tickset locally against Redis with example handlers and a live status line.')
    .option('--redis <url>', 'Redis URL (default: TICKSET_REDIS_URL, REDIS_URL, redis://127.0.0.1:6379)')
    .option('--duration <seconds>', 'how long to run before the summary', '20')
    .option('--follow', 'keep running until Ctrl-C')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`tickset demo: ${text.replace(/^error: /, '')}`),
    });
  program.parse([...argv], { from: 'user' });
  return program.opts<DemoOptions>();
}

/** `--duration`: whole seconds, 1 to 86400 (the same message as the CLI's integer flags). */
function durationSeconds(text: string): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^-?\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < 1 || value > 86_400) {
    throw new DemoError(`invalid --duration ${JSON.stringify(text)}: expected an integer from 1 to 86400`);
  }
  return value;
}

async function run(options: DemoOptions): Promise<void> {
  const seconds = durationSeconds(options.duration);
  const redis: DemoRedis = await obtainRedis(options.redis, process.env);
  const namespace = `demo-${randomBytes(4).toString('hex')}`;
  const tracker = new Tracker();
  const scheduler = new Scheduler({ redis: redis.url, namespace });
  const runtime = startLocal({
    redis: redis.url,
    namespace,
    handlers: Object.fromEntries(
      Object.entries(HANDLERS).map(([name, fn]) => [name, tracker.wrap(name, fn)]),
    ),
    rateLimits: RATE_LIMITS,
    leaseMs: 10_000,
    onOutcome: tracker.onOutcome,
  });
  const reporter = new StatusReporter({ tracker, stats: () => scheduler.stats(), out: process.stdout });

  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let interrupted = 0;
  const onSignal = () => {
    interrupted++;
    if (interrupted === 1) finish();
    else {
      // A second Ctrl-C: stop waiting for handlers, but still stop a private redis-server.
      void redis.stop().finally(() => process.exit(130));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const scheduled = await scheduleScenario(scheduler);
    console.log(`tickset demo: Redis ${redactUrl(redis.url)} (${redis.origin}), namespace ${namespace}`);
    console.log(
      `scheduled ${scheduled} jobs for ${Object.keys(HANDLERS).length} handlers; ` +
        (options.follow ? 'running until Ctrl-C' : `running for ${seconds} s (--follow to keep going)`),
    );
    reporter.start();
    const timer = options.follow ? undefined : setTimeout(finish, seconds * 1000);
    await finished;
    clearTimeout(timer);
    reporter.stop();
    await runtime.stop();
    const elapsedMs = Date.now() - tracker.startedAt;
    const [dead, stats] = await Promise.all([
      listJobs(scheduler.engine, { state: 'dead', limit: 20 }, Date.now()),
      scheduler.stats(),
    ]);
    console.log(summary({ tracker, elapsedMs, namespace, dead, deadTotal: stats.dead }));
  } finally {
    reporter.stop();
    await runtime.stop();
    await deleteNamespace(scheduler.engine.redis, namespace).catch(() => undefined);
    await scheduler.close();
    await redis.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

try {
  await run(parseArgs(process.argv.slice(2)));
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    const message = error instanceof DemoError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`tickset demo: ${message}\n`);
    process.exitCode = 1;
  }
}
