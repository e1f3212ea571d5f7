/**
 * The `tickset` command line: builds the commander program and runs it, turning every failure into one
 * line on stderr and an exit code (see errors.ts). Never prints a stack trace unless TICKSET_DEBUG=1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigurationError, TicksetError, ValidationError } from '../errors.js';
import { isStoreError } from '../redis/errors.js';
import { registerCancel } from './commands/cancel.js';
import { registerDead } from './commands/dead.js';
import { registerList } from './commands/list.js';
import { registerPause } from './commands/pause.js';
import { registerSchedule } from './commands/schedule.js';
import { registerShow } from './commands/show.js';
import { registerStatus } from './commands/status.js';
import type { CliIo } from './context.js';
import { CliError, EXIT } from './errors.js';
import { addIamOptions } from './iam.js';

function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tickset') return pkg.version ?? '0.0.0';
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export function buildProgram(io: CliIo): Command {
  const program = addIamOptions(new Command('tickset'))
    .description('Inspect and operate tickset: scheduled tasks in Redis, run by a tick and EventBridge.')
    .version(packageVersion(), '-V, --version')
    .option(
      '--redis <url>',
      'Redis URL (default: TICKSET_REDIS_URL, then REDIS_URL, then redis://127.0.0.1:6379)',
    )
    .option('--namespace <ns>', 'tickset namespace (default: TICKSET_NAMESPACE or "tickset")')
    .option('--shards <n>', 'number of shards, as the producers and tick use (default: TICKSET_SHARDS or 1)')
    .option('--cluster', 'connect as a Redis Cluster client (default: TICKSET_REDIS_CLUSTER)')
    .option('--json', 'print one JSON document on stdout')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(`tickset: ${text.replace(/^error: /, '')}`),
    });
  registerStatus(program, io);
  registerList(program, io);
  registerShow(program, io);
  registerSchedule(program, io);
  registerCancel(program, io);
  registerDead(program, io);
  registerPause(program, io);
  program.addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 usage or validation error, 2 Redis unreachable.\n' + 'Runbook: docs/OPERATIONS.md',
  );
  return program;
}

/** The one line printed for an error, and the exit code. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (isStoreError(error) || isStoreError((error as { cause?: unknown } | undefined)?.cause)) {
    return { message: (error as Error).message, exitCode: EXIT.unreachable };
  }
  if (error instanceof ValidationError || error instanceof ConfigurationError) {
    return {
      message: error.message.replace(/ Fix the input: retrying will not help\.$/, ''),
      exitCode: EXIT.usage,
    };
  }
  if (error instanceof TicksetError) {
    return { message: error.message, exitCode: EXIT.usage };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `unexpected error: ${message}`, exitCode: EXIT.usage };
}

/** Runs one command line (without `node` and the script). Resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed its message (or the help / version text).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { message, exitCode } = describeFailure(error);
    io.stderr(`tickset: ${message.split('\n')[0]}\n`);
    if (io.env.TICKSET_DEBUG === '1' && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return exitCode;
  }
}
