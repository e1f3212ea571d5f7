/** `tickset cancel <id|key>`: removes a job wherever it is (scheduled, due, in flight or dead). */
import type { Command } from 'commander';
import { cancelJob } from '../../core/store/admin.js';
import { type CliIo, withContext } from '../context.js';
import { checkRef, notFound } from './show.js';

export function registerCancel(program: Command, io: CliIo): void {
  program
    .command('cancel')
    .description('cancel a job by id or key (a series stops; occurrences already in flight finish)')
    .argument('<id|key>', 'job id or user key')
    .action(async (idOrKey: string, _options: unknown, command: Command) => {
      checkRef(idOrKey);
      await withContext(command, io, async (ctx) => {
        const cancelled = await cancelJob(ctx.engine, idOrKey);
        if (!cancelled) throw notFound(idOrKey, ctx.engine.namespace);
        ctx.emit({ cancelled: true, idOrKey }, () => `cancelled ${idOrKey}`);
      });
    });
}
