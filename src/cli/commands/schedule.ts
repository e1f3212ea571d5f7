/**
 * `tickset schedule --handler H (--at T | --in 30s | --cron EXPR [--tz Z] | --every 5m) [--payload JSON]
 * [--key K] [--priority N] [--max-attempts N] [--expires-at T]`: the producer API from a shell.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Scheduler } from '../../client/scheduler.js';
import { ENV } from '../../config/env.js';
import type { ScheduleOptions } from '../../core/prepare.js';
import { ValidationError } from '../../errors.js';
import { formatRelative, formatTime } from '../../format.js';
import { type CliIo, withContext } from '../context.js';
import { CliError } from '../errors.js';
import { parseDuration, parseInteger, parseJson, parseTime } from '../parse.js';
import { checkHandler } from './list.js';

interface ScheduleFlags {
  handler: string;
  at?: string;
  in?: string;
  cron?: string;
  tz?: string;
  every?: string;
  payload?: string;
  key?: string;
  priority?: string;
  maxAttempts?: string;
  expiresAt?: string;
}

/** Which flag set which schedule option, to report validation errors in the user's terms. */
const FLAG_OF: Readonly<Record<string, keyof ScheduleFlags>> = {
  handler: 'handler',
  at: 'at',
  delayMs: 'in',
  cron: 'cron',
  timezone: 'tz',
  everyMs: 'every',
  payload: 'payload',
  key: 'key',
  priority: 'priority',
  maxAttempts: 'maxAttempts',
  expiresAt: 'expiresAt',
};

function flagName(option: keyof ScheduleFlags): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Turns the flags into schedule options; throws CliError for anything malformed. */
export function toScheduleOptions(flags: ScheduleFlags): ScheduleOptions {
  const timings = (['at', 'in', 'cron', 'every'] as const).filter((f) => flags[f] !== undefined);
  if (timings.length !== 1) {
    throw new CliError(
      timings.length === 0
        ? 'schedule needs one of --at, --in, --cron or --every'
        : `schedule takes only one of --at, --in, --cron or --every (got ${timings.map(flagName).join(' and ')})`,
    );
  }
  if (flags.tz !== undefined && flags.cron === undefined) throw new CliError('--tz only goes with --cron');
  return {
    handler: checkHandler('--handler', flags.handler),
    ...(flags.at !== undefined ? { at: parseTime('--at', flags.at) } : {}),
    ...(flags.in !== undefined ? { delayMs: parseDuration('--in', flags.in) } : {}),
    ...(flags.cron !== undefined ? { cron: flags.cron } : {}),
    ...(flags.tz !== undefined ? { timezone: flags.tz } : {}),
    ...(flags.every !== undefined ? { everyMs: parseDuration('--every', flags.every) } : {}),
    ...(flags.payload !== undefined ? { payload: parseJson('--payload', payloadText(flags.payload)) } : {}),
    ...(flags.key !== undefined ? { key: flags.key } : {}),
    ...(flags.priority !== undefined ? { priority: parseInteger('--priority', flags.priority, 0, 100) } : {}),
    ...(flags.maxAttempts !== undefined
      ? { maxAttempts: parseInteger('--max-attempts', flags.maxAttempts, 1, 100) }
      : {}),
    ...(flags.expiresAt !== undefined ? { expiresAt: parseTime('--expires-at', flags.expiresAt) } : {}),
  };
}

/**
 * `--payload` is JSON text, `@file.json` (the file's content) or `-` (standard input): a payload near the
 * 200 KB limit does not fit in an argument list.
 */
export function payloadText(value: string, readStdin: () => string = () => readFileSync(0, 'utf8')): string {
  if (value === '-') return readStdin();
  if (!value.startsWith('@')) return value;
  const file = value.slice(1);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --payload file ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
}

const DURATION_FLAGS: ReadonlySet<keyof ScheduleFlags> = new Set(['in', 'every']);

/** The producer's `expected` (zod's "Too small: expected number to be >=100") in the CLI's terms. */
function inCliTerms(option: keyof ScheduleFlags, expected: string): string {
  const bound = /^Too (small|big): expected \w+ to (?:be|have) ([<>]=?)\s*([\d.]+)/.exec(expected);
  if (!bound) return expected;
  const [, , op, limit] = bound;
  const amount = DURATION_FLAGS.has(option) ? `${limit}ms` : limit;
  const word = op!.startsWith('>')
    ? op === '>'
      ? 'more than'
      : 'at least'
    : op === '<'
      ? 'less than'
      : 'at most';
  return DURATION_FLAGS.has(option) ? `a duration of ${word} ${amount}` : `${word} ${amount}`;
}

/** Rewords the producer's ValidationError (`Invalid options.cron: ...`) in terms of the flag. */
function reword(error: ValidationError, flags: ScheduleFlags): CliError {
  const [, name] = /^options\.([A-Za-z]+)/.exec(error.field) ?? [];
  const option = name ? FLAG_OF[name] : undefined;
  if (!option) return new CliError(error.message.replace(/ Fix the input: retrying will not help\.$/, ''));
  const raw = flags[option];
  const got = raw === undefined ? error.value : JSON.stringify(raw);
  return new CliError(
    `invalid ${flagName(option)} ${got}: expected ${inCliTerms(option, error.expected)}`,
    undefined,
    {
      cause: error,
    },
  );
}

export function registerSchedule(program: Command, io: CliIo): void {
  program
    .command('schedule')
    .description('schedule a job (or update the job with the same --key)')
    .requiredOption('--handler <name>', 'handler that runs the job')
    .option('--at <time>', 'run at this time: ISO 8601 or epoch ms (a past time means now)')
    .option('--in <duration>', 'run after this long, e.g. 30s, 5m, 1h30m')
    .option('--cron <expr>', 'cron expression: 5 fields, or 6 with seconds first')
    .option('--tz <zone>', 'IANA time zone of --cron (default UTC)')
    .option('--every <duration>', 'run every this long, e.g. 5m (first run one interval from now)')
    .option(
      '--payload <json>',
      'JSON payload (default null); @file.json reads a file, - reads standard input',
    )
    .option('--key <key>', 'dedupe / upsert key')
    .option('--priority <n>', '0-100; higher is claimed first among due jobs')
    .option('--max-attempts <n>', 'attempts before the job is dead-lettered (1-100, default 3)')
    .option('--expires-at <time>', 'never run after this time: ISO 8601 or epoch ms')
    .action(async (flags: ScheduleFlags, command: Command) => {
      const options = toScheduleOptions(flags);
      await withContext(command, io, async (ctx) => {
        const handlers = io.env[ENV.handlers]
          ?.split(',')
          .map((h) => h.trim())
          .filter(Boolean);
        // Loaded here: the producer's validation (zod) is only needed by this command.
        const { Scheduler } = await import('../../client/scheduler.js');
        const scheduler = new Scheduler({
          redis: ctx.engine.redis,
          namespace: ctx.engine.namespace,
          shards: ctx.engine.shards,
          now: () => ctx.now(),
          ...(handlers && handlers.length > 0 ? { handlers } : {}),
        });
        let result: Awaited<ReturnType<Scheduler['schedule']>>;
        try {
          result = await scheduler.schedule(options);
        } catch (error) {
          if (error instanceof ValidationError) throw reword(error, flags);
          throw error;
        }
        const now = ctx.now();
        ctx.emit(
          {
            id: result.id,
            handler: options.handler,
            runAt: result.runAt,
            revision: result.revision,
            ...(options.key !== undefined ? { key: options.key } : {}),
          },
          () =>
            `scheduled ${result.id} for ${options.handler}${options.key !== undefined ? ` (key ${options.key})` : ''}: ` +
            `due ${formatTime(result.runAt)} (${formatRelative(result.runAt, now)}), revision ${result.revision}`,
        );
      });
    });
}
