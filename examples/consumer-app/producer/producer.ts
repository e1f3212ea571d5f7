/**
 * Producer Lambda: schedules jobs. `tasks.grantSchedule(fn)` in the stack gives it the cache endpoint, TLS,
 * auth, namespace, known handler names and network access that `Scheduler.fromEnv()` reads.
 */
import { Scheduler } from 'tickset';

let scheduler: Promise<Scheduler> | undefined;

export const handler = async (event: { readonly userId: number; readonly at?: string }) => {
  scheduler ??= Scheduler.fromEnv();
  const tasks = await scheduler;
  const reminder = await tasks.schedule({
    handler: 'send-reminder',
    payload: { userId: event.userId },
    ...(event.at ? { at: new Date(event.at) } : { delayMs: 60_000 }),
  });
  await tasks.schedule({
    handler: 'send-digest',
    payload: { userId: event.userId },
    cron: '0 8 * * 1',
    timezone: 'Europe/Berlin',
    key: `digest-${event.userId}`,
  });
  return { id: reminder.id, runAt: reminder.runAt.toISOString() };
};
