/**
 * `tickset dead replay <id>|--all` and `tickset dead purge [--older-than 7d]`: the dead set after the cause
 * is fixed. A replayed job is due now with its attempts reset and a new idempotency key.
 */
import type { Command } from 'commander';
import { getJob } from '../../core/inspect.js';
import { purgeDeadJobs, replayDeadJobs } from '../../core/store/admin.js';
import { formatDuration } from '../../format.js';
import { type CliIo, withContext } from '../context.js';
import { CliError } from '../errors.js';
import { parseDuration } from '../parse.js';
import { checkRef, notFound } from './show.js';

export function registerDead(program: Command, io: CliIo): void {
  const dead = program
    .command('dead')
    .description('replay or purge dead-lettered jobs (list them with `list --state dead`)');

  dead
    .command('replay')
    .description('move dead jobs back to their queue, due now, attempts reset')
    .argument('[id|key]', 'the dead job to replay')
    .option('--all', 'replay every dead job')
    .action(async (idOrKey: string | undefined, options: { all?: boolean }, command: Command) => {
      if ((idOrKey === undefined) === !options.all) {
        throw new CliError('dead replay takes either a job id or key, or --all (not both)');
      }
      if (idOrKey !== undefined) checkRef(idOrKey);
      await withContext(command, io, async (ctx) => {
        const now = ctx.now();
        if (options.all) {
          const { count: replayed } = await replayDeadJobs(ctx.engine, { all: true }, now);
          ctx.emit({ replayed }, () => `replayed ${replayed} dead job${replayed === 1 ? '' : 's'}`);
          return;
        }
        const job = await getJob(ctx.engine, idOrKey!, now);
        if (!job) throw notFound(idOrKey!, ctx.engine.namespace);
        if (job.state !== 'dead') throw new CliError(`job ${job.id} is not dead (it is ${job.state})`);
        const { count: replayed } = await replayDeadJobs(ctx.engine, { id: job.id }, now);
        if (replayed === 0) throw new CliError(`job ${job.id} left the dead set before it could be replayed`);
        ctx.emit({ replayed, id: job.id }, () => `replayed ${job.id} (${job.handler}): due now`);
      });
    });

  dead
    .command('purge')
    .description('delete dead jobs for good (default: all of them)')
    .option('--older-than <duration>', 'only jobs that died longer ago than this, e.g. 7d')
    .action(async (options: { olderThan?: string }, command: Command) => {
      const age =
        options.olderThan === undefined ? undefined : parseDuration('--older-than', options.olderThan);
      await withContext(command, io, async (ctx) => {
        const { count: purged } = await purgeDeadJobs(
          ctx.engine,
          age === undefined ? { all: true } : { all: true, olderThanMs: age },
          ctx.now(),
        );
        ctx.emit(
          { purged, ...(age !== undefined ? { olderThanMs: age } : {}) },
          () =>
            `purged ${purged} dead job${purged === 1 ? '' : 's'}` +
            (age !== undefined ? ` older than ${formatDuration(age)}` : ''),
        );
      });
    });
}
