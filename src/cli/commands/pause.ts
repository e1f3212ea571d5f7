/**
 * `tickset pause <handler>` / `tickset resume <handler>`: a paused handler's due tasks wait in their queue
 * (the tick does not claim them); nothing fails and nothing is lost. Resume and they run, oldest first.
 */
import type { Command } from 'commander';
import { pauseHandler, resumeHandler } from '../../core/store/admin.js';
import { type CliIo, withContext } from '../context.js';
import { checkHandler } from './list.js';

function register(program: Command, io: CliIo, paused: boolean): void {
  const verb = paused ? 'pause' : 'resume';
  program
    .command(verb)
    .description(
      paused
        ? 'stop claiming tasks of a handler (they wait, they do not fail)'
        : 'claim tasks of a paused handler again',
    )
    .argument('<handler>', 'handler name')
    .action(async (name: string, _options: unknown, command: Command) => {
      const handler = checkHandler('<handler>', name);
      await withContext(command, io, async (ctx) => {
        const changed = await (paused ? pauseHandler : resumeHandler)(ctx.engine, handler);
        ctx.emit({ handler, paused, changed }, () => {
          if (!changed) return `${handler} was already ${paused ? 'paused' : 'running'}`;
          return paused
            ? `paused ${handler}: its tasks wait until \`tickset resume ${handler}\``
            : `resumed ${handler}`;
        });
      });
    });
}

export function registerPause(program: Command, io: CliIo): void {
  register(program, io, true);
  register(program, io, false);
}
