/**
 * Example producer Lambda: schedules jobs with `Scheduler.fromEnv()`. `ScheduledTasks.grantSchedule(fn)` gives
 * it the cache endpoint, TLS and auth settings, the namespace, the known handler names and network access.
 *
 * Invoke it with, for example:
 *   { "action": "remind", "userId": 42, "at": "2026-12-01T09:00:00Z" }
 *   { "action": "remind-daily", "userId": 42, "cron": "0 9 * * 1-5", "timezone": "Europe/Berlin" }
 *   { "action": "sync", "deviceId": "X", "everyMs": 90000 }
 *   { "action": "cancel", "key": "device-X" }
 */
import { Scheduler } from 'tickset';

export type ProducerEvent =
  | { readonly action: 'remind'; readonly userId: number; readonly at?: string; readonly delayMs?: number }
  | {
      readonly action: 'remind-daily';
      readonly userId: number;
      readonly cron: string;
      readonly timezone?: string;
    }
  | { readonly action: 'sync'; readonly deviceId: string; readonly everyMs?: number }
  | { readonly action: 'cancel'; readonly key: string };

// One connection per container, made at the first invocation and reused by the next ones.
let scheduler: Promise<Scheduler> | undefined;

function connect(): Promise<Scheduler> {
  scheduler ??= Scheduler.fromEnv().catch((error: unknown) => {
    scheduler = undefined; // let the next invocation try again
    throw error;
  });
  return scheduler;
}

export const handler = async (event: ProducerEvent): Promise<unknown> => {
  const tasks = await connect();
  switch (event.action) {
    case 'remind': {
      const when = event.at ? { at: new Date(event.at) } : { delayMs: event.delayMs ?? 60_000 };
      const { id, runAt } = await tasks.schedule({
        handler: 'send-reminder',
        payload: { userId: event.userId },
        ...when,
      });
      return { id, runAt: runAt.toISOString() };
    }
    case 'remind-daily': {
      // The same key updates the existing series instead of adding a second one.
      const { id, runAt } = await tasks.schedule({
        handler: 'send-reminder',
        payload: { userId: event.userId, message: 'Your daily reminder' },
        cron: event.cron,
        timezone: event.timezone ?? 'UTC',
        key: `reminder-daily-${event.userId}`,
      });
      return { id, firstRunAt: runAt.toISOString() };
    }
    case 'sync': {
      const { id, runAt } = await tasks.schedule({
        handler: 'sync-device',
        payload: { deviceId: event.deviceId },
        everyMs: event.everyMs ?? 90_000,
        key: `device-${event.deviceId}`,
        maxAttempts: 5,
      });
      return { id, firstRunAt: runAt.toISOString() };
    }
    case 'cancel':
      return { cancelled: await tasks.cancel(event.key) };
    default:
      throw new Error(`unknown action ${JSON.stringify((event as { action?: unknown }).action)}`);
  }
};
