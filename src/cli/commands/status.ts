/** `tickset status`: counts per state and per handler, paused handlers, and whether the tick is alive. */
import type { Command } from 'commander';
import {
  emptyHandlerStats,
  getStats,
  type Heartbeat,
  pausedHandlers,
  readHeartbeat,
} from '../../core/inspect.js';
import { formatDuration, formatTime, keyValues, table } from '../../format.js';
import { type CliIo, withContext } from '../context.js';

/** A heartbeat older than this means no tick is running (the rule fires every minute, plus margin). */
export const TICK_ALIVE_MS = 90_000;

export type TickState = 'alive' | 'not-running' | 'never-seen';

export interface TickStatus {
  readonly state: TickState;
  readonly lastHeartbeatAt?: string;
  readonly ageMs?: number;
  readonly owner?: string;
  readonly mode?: string;
}

export function tickStatus(heartbeat: Heartbeat | undefined, now: number): TickStatus {
  if (!heartbeat) return { state: 'never-seen' };
  const ageMs = Math.max(0, now - heartbeat.at.getTime());
  return {
    state: ageMs < TICK_ALIVE_MS ? 'alive' : 'not-running',
    lastHeartbeatAt: heartbeat.at.toISOString(),
    ageMs,
    owner: heartbeat.owner,
    mode: heartbeat.mode,
  };
}

function describeTick(tick: TickStatus): string {
  if (tick.state === 'never-seen') return 'never seen: no tick has run in this namespace';
  const age = `last heartbeat ${formatDuration(tick.ageMs!)} ago (${formatTime(new Date(tick.lastHeartbeatAt!))})`;
  const who = [tick.mode && `mode ${tick.mode}`, tick.owner && `owner ${tick.owner}`].filter(Boolean);
  const detail = who.length > 0 ? `, ${who.join(', ')}` : '';
  return tick.state === 'alive' ? `alive: ${age}${detail}` : `NOT RUNNING: ${age}${detail}`;
}

export function registerStatus(program: Command, io: CliIo): void {
  program
    .command('status')
    .description('counts per state and per handler, oldest due age, paused handlers, tick heartbeat')
    .action(async (_options: unknown, command: Command) => {
      await withContext(command, io, async (ctx) => {
        const now = ctx.now();
        const [stats, paused, heartbeat] = await Promise.all([
          getStats(ctx.engine, now),
          pausedHandlers(ctx.engine),
          readHeartbeat(ctx.engine),
        ]);
        const tick = tickStatus(heartbeat, now);
        const handlers: Record<string, (typeof stats.byHandler)[string]> = { ...stats.byHandler };
        for (const name of paused) {
          handlers[name] ??= emptyHandlerStats(true);
        }
        const names = Object.keys(handlers).sort();
        const document = {
          namespace: ctx.engine.namespace,
          shards: ctx.engine.shards,
          tick,
          scheduled: stats.scheduled,
          parked: stats.parked,
          due: stats.due,
          inflight: stats.inflight,
          dead: stats.dead,
          oldestDueAgeMs: stats.oldestDueAgeMs,
          paused: [...paused].sort(),
          handlers: Object.fromEntries(names.map((n) => [n, handlers[n]])),
        };
        ctx.emit(document, () => {
          const head = keyValues([
            [
              'namespace',
              `${ctx.engine.namespace} (${ctx.engine.shards} shard${ctx.engine.shards === 1 ? '' : 's'})`,
            ],
            ['tick', describeTick(tick)],
            [
              'jobs',
              `scheduled ${stats.scheduled}${stats.parked > 0 ? ` (${stats.parked} parked)` : ''}  due ${stats.due}  in flight ${stats.inflight}  dead ${stats.dead}`,
            ],
            ['oldest due', stats.due > 0 ? formatDuration(stats.oldestDueAgeMs) : '-'],
            ['paused', document.paused.length > 0 ? document.paused.join(', ') : 'none'],
          ]);
          if (names.length === 0) return `${head}\n\nno jobs in this namespace`;
          const rows = names.map((n) => {
            const h = handlers[n]!;
            return [
              n,
              h.scheduled,
              h.due,
              h.inflight,
              h.dead,
              h.due > 0 ? formatDuration(h.oldestDueAgeMs) : '-',
              h.paused ? 'PAUSED' : 'active',
            ];
          });
          return `${head}\n\n${table(['HANDLER', 'SCHEDULED', 'DUE', 'INFLIGHT', 'DEAD', 'OLDEST DUE', 'STATE'], rows)}`;
        });
      });
    });
}
