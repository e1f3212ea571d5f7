/**
 * What the demo schedules, and the handlers that run it: a realistic mix of one-off, delayed, cron and
 * interval tasks, a flaky webhook that succeeds on its third attempt, a broken one that ends in the dead
 * set, and a burst against a rate-limited API.
 */
import type { Scheduler } from '../src/client/scheduler.js';
import type { HandlerLimits } from '../src/core/engine.js';
import type { ScheduleOptions } from '../src/core/prepare.js';
import type { Task } from '../src/handler/task-handler.js';

export type HandlerFn = (task: Task) => Promise<unknown>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const work = (min: number, max: number) => sleep(min + Math.random() * (max - min));

/** The handler that waits by design: its lateness is the rate limit at work, not scheduling delay. */
export const RATE_LIMITED = 'rate-limited-api';

export const RATE_LIMITS: Readonly<Record<string, HandlerLimits>> = {
  [RATE_LIMITED]: { perSecond: 5, maxInFlight: 3 },
};

export const HANDLERS: Readonly<Record<string, HandlerFn>> = {
  /** E-mails a reminder. */
  'send-reminder': async () => {
    await work(5, 40);
    return { sent: true };
  },
  /** Rolls up metrics on a cron (every 3 s, Berlin time). */
  'rollup-metrics': async () => {
    await work(10, 60);
  },
  /** Syncs a device every 2 s. */
  'sync-device': async () => {
    await work(5, 30);
  },
  /** A partner webhook that times out twice, then answers. */
  'flaky-webhook': async (task) => {
    await work(5, 20);
    if (task.attempt <= 2) throw new Error(`partner timed out (attempt ${task.attempt})`);
    return { status: 200 };
  },
  /** A partner webhook that is down for good: three attempts, then the dead set. */
  'broken-webhook': async () => {
    await work(5, 20);
    throw new Error('HTTP 503 Service Unavailable from hooks.partner.example');
  },
  /** A third-party API with a quota: 5 calls per second, at most 3 at once. */
  [RATE_LIMITED]: async () => {
    await work(150, 300);
  },
};

/** Everything the demo schedules at start. `now` is the scheduling time. */
export function scenario(): ScheduleOptions[] {
  const jobs: ScheduleOptions[] = [
    // One-off, now and later; the same key twice is one job (an upsert), not two.
    { handler: 'send-reminder', payload: { userId: 1, text: 'Your trial ends today' }, at: new Date() },
    { handler: 'send-reminder', payload: { userId: 2, text: 'Meeting in 5 minutes' }, delayMs: 1500 },
    { handler: 'send-reminder', payload: { userId: 3, text: 'Invoice due' }, delayMs: 4000, priority: 10 },
    {
      handler: 'send-reminder',
      payload: { userId: 4, text: 'Draft' },
      delayMs: 8000,
      key: 'reminder:user-4',
    },
    {
      handler: 'send-reminder',
      payload: { userId: 4, text: 'Cart waiting' },
      delayMs: 5000,
      key: 'reminder:user-4',
    },
    { handler: 'send-reminder', payload: { userId: 5, text: 'Weekly digest' }, delayMs: 12_000 },
    // Recurring: a 6-field cron in a time zone, and a fixed interval.
    { handler: 'rollup-metrics', cron: '*/3 * * * * *', timezone: 'Europe/Berlin', key: 'rollup' },
    {
      handler: 'sync-device',
      payload: { deviceId: 'thermostat-7' },
      everyMs: 2000,
      key: 'sync:thermostat-7',
    },
    // Failures: retried until it works, and retried until it is dead-lettered.
    {
      handler: 'flaky-webhook',
      payload: { orderId: 'A-1001' },
      delayMs: 500,
      maxAttempts: 5,
      backoff: { type: 'fixed', delayMs: 500 },
    },
    {
      handler: 'broken-webhook',
      payload: { orderId: 'B-2002' },
      delayMs: 200,
      maxAttempts: 3,
      backoff: { type: 'fixed', delayMs: 300 },
    },
  ];
  // A burst of 50 calls against the rate-limited API, all due at once.
  const burstAt = Date.now() + 1000;
  for (let i = 0; i < 50; i++) jobs.push({ handler: RATE_LIMITED, payload: { call: i }, at: burstAt });
  return jobs;
}

/** Schedules the scenario in one round trip; returns how many jobs Redis now holds for it. */
export async function scheduleScenario(scheduler: Scheduler): Promise<number> {
  const results = await scheduler.scheduleMany(scenario());
  return new Set(results.map((r) => r.id)).size;
}
