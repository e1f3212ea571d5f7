/** Shared by the tickset figures: the job shape, and pre-loading a backlog of due jobs. */
import { type ScheduleOptions, Scheduler } from 'tickset';
import { payload100 } from '../redis.js';

export const HANDLER = 'bench';
/** Far enough ahead that nothing becomes due while a schedule figure runs. */
export const FUTURE_DELAY_MS = 3_600_000;

export function delayedJob(i: number): ScheduleOptions {
  return { handler: HANDLER, payload: payload100(i), delayMs: FUTURE_DELAY_MS };
}

/** Schedules `n` jobs that are already due (batches of 1000, 4 in flight), then closes its connection. */
export async function preloadDue(url: string, namespace: string, n: number): Promise<void> {
  const scheduler = new Scheduler({ redis: url, namespace });
  try {
    const at = Date.now() - 1000;
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < n) {
          const start = next;
          const size = Math.min(1000, n - start);
          next += size;
          const batch: ScheduleOptions[] = [];
          for (let i = 0; i < size; i++) batch.push({ handler: HANDLER, payload: payload100(start + i), at });
          await scheduler.scheduleMany(batch);
        }
      }),
    );
  } finally {
    await scheduler.close();
  }
}

/** Runs `total` tasks with `inFlight` workers pulling from a shared counter. */
export async function drive(
  total: number,
  inFlight: number,
  step: number,
  work: (start: number, size: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const start = next;
        const size = Math.min(step, total - start);
        next += size;
        await work(start, size);
      }
    }),
  );
}
