/** `tickset show <id|key>`: one job, everything tickset knows about it. */
import type { Command } from 'commander';
import { getJob, type JobInfo } from '../../core/inspect.js';
import { formatDuration, formatRelative, formatTime, keyValues, truncate } from '../../format.js';
import { type CliIo, withContext } from '../context.js';
import { CliError } from '../errors.js';

/** Job ids and keys are at most 1024 characters (the producer's limit). */
export function checkRef(idOrKey: string): string {
  if (idOrKey.length === 0 || idOrKey.length > 1024) {
    throw new CliError(`invalid job id or key: expected 1 to 1024 characters, got ${idOrKey.length}`);
  }
  return idOrKey;
}

export function notFound(idOrKey: string, namespace: string): CliError {
  return new CliError(`no job with id or key ${JSON.stringify(idOrKey)} in namespace "${namespace}"`);
}

function schedule(job: JobInfo): string {
  if (job.cron) return `cron "${job.cron}" (${job.timezone})`;
  if (job.everyMs) return `every ${formatDuration(job.everyMs)}`;
  return 'once';
}

export function describeJob(job: JobInfo, now: number): string {
  return keyValues([
    ['id', job.id],
    ['handler', job.handler],
    ['state', job.parked ? `${job.state} (parked)` : job.state],
    ['key', job.key],
    ['runs', schedule(job)],
    ['run at', job.runAt ? `${formatTime(job.runAt)} (${formatRelative(job.runAt, now)})` : 'being armed'],
    ['attempt', `${job.attempt} of ${job.maxAttempts}`],
    ['priority', job.priority],
    [
      'expires',
      job.expiresAt ? `${formatTime(job.expiresAt)} (${formatRelative(job.expiresAt, now)})` : undefined,
    ],
    [
      'lease until',
      job.leaseUntil ? `${formatTime(job.leaseUntil)} (${formatRelative(job.leaseUntil, now)})` : undefined,
    ],
    [
      'failed at',
      job.failedAt ? `${formatTime(job.failedAt)} (${formatRelative(job.failedAt, now)})` : undefined,
    ],
    ['last failure', job.lastReason ? `${job.lastReason}: ${job.lastError ?? ''}`.trim() : undefined],
    ['revision', job.revision],
    ['idempotency', job.idempotencyKey],
    ['shard', job.shard],
    ['payload', truncate(JSON.stringify(job.payload), 400)],
  ]);
}

export function registerShow(program: Command, io: CliIo): void {
  program
    .command('show')
    .description('show one job by id or key')
    .argument('<id|key>', 'job id, occurrence id (<id>@<ms>) or user key')
    .action(async (idOrKey: string, _options: unknown, command: Command) => {
      checkRef(idOrKey);
      await withContext(command, io, async (ctx) => {
        const job = await getJob(ctx.engine, idOrKey, ctx.now());
        if (!job) throw notFound(idOrKey, ctx.engine.namespace);
        ctx.emit(job, () => describeJob(job, ctx.now()));
      });
    });
}
