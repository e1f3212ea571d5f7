/** `tickset list [--state due|inflight|dead|scheduled] [--handler H] [--limit N]`. */
import type { Command } from 'commander';
import { type JobInfo, type ListState, listJobs } from '../../core/inspect.js';
import { isValidHandlerName } from '../../core/keys.js';
import { formatRelative, formatTime, table, truncate } from '../../format.js';
import { type CliIo, withContext } from '../context.js';
import { invalidOption } from '../errors.js';
import { parseChoice, parseInteger } from '../parse.js';

export const LIST_STATES: readonly ListState[] = ['due', 'inflight', 'dead', 'scheduled'];
export const MAX_LIST_LIMIT = 10_000;

export function checkHandler(flag: string, handler: string): string {
  if (!isValidHandlerName(handler)) {
    throw invalidOption(flag, handler, 'a handler name matching [A-Za-z0-9][A-Za-z0-9_.-]{0,63}');
  }
  return handler;
}

function rows(jobs: readonly JobInfo[], state: ListState, now: number): string {
  const dead = state === 'dead';
  const headers = [
    'ID',
    'HANDLER',
    dead ? 'FAILED' : state === 'inflight' ? 'LEASE UNTIL' : 'RUN AT',
    'ATTEMPT',
    'KEY',
  ];
  if (dead) headers.push('REASON');
  const body = jobs.map((job) => {
    const at = dead ? job.failedAt : state === 'inflight' ? job.leaseUntil : job.runAt;
    const row = [
      job.id,
      job.handler,
      at ? `${formatTime(at)} (${formatRelative(at, now)})` : '-',
      `${job.attempt}/${job.maxAttempts}`,
      job.key ?? '',
    ];
    if (dead) row.push(truncate(`${job.lastReason ?? ''}: ${job.lastError ?? ''}`, 60));
    return row;
  });
  return table(headers, body);
}

export function registerList(program: Command, io: CliIo): void {
  program
    .command('list')
    .description('list jobs in one state, oldest first')
    .option('--state <state>', `one of ${LIST_STATES.join(', ')}`, 'due')
    .option('--handler <name>', 'only jobs of this handler')
    .option('--limit <n>', `most jobs to show (1-${MAX_LIST_LIMIT})`, '20')
    .action(async (options: { state: string; handler?: string; limit: string }, command: Command) => {
      const state = parseChoice('--state', options.state, LIST_STATES);
      const limit = parseInteger('--limit', options.limit, 1, MAX_LIST_LIMIT);
      const handler = options.handler === undefined ? undefined : checkHandler('--handler', options.handler);
      await withContext(command, io, async (ctx) => {
        const now = ctx.now();
        const jobs = await listJobs(ctx.engine, { state, limit, ...(handler ? { handler } : {}) }, now);
        ctx.emit({ state, ...(handler ? { handler } : {}), count: jobs.length, jobs }, () =>
          jobs.length === 0
            ? `no ${state} jobs${handler ? ` for handler ${handler}` : ''}`
            : rows(jobs, state, now),
        );
      });
    });
}
