/**
 * The local runtime's start gate: at most `perSecond` starts of a handler's function in any sliding
 * 1-second window, on this process's clock. The tick's rate limit bounds claims (store/rate-limit.ts);
 * locally a claim is handed to a free handler at once, but the begin round trip between the claim and the
 * function's first line varies by a few milliseconds from task to task, so two claims exactly one window
 * apart could start just under a window apart. The gate holds such a start back by that difference, so
 * that the starts, not only the claims, hold the limit. The wait runs inside the function's timeout.
 *
 * Only the local runtime has one: on AWS, starts happen in separate Lambda invocations, and delivery
 * (EventBridge retries, cold starts) can bunch them; use `maxInFlight` there (README, "Rate limits").
 */
import type { Task } from '../handler/task-handler.js';

const WINDOW_MS = 1000;

/** Wraps `fn` so that it starts at most `perSecond` times in any window of 1000 ms of `now()`. */
export function gateStarts<T extends Task>(
  fn: (task: T) => Promise<unknown> | unknown,
  perSecond: number,
  now: () => number = Date.now,
): (task: T) => Promise<unknown> {
  // The starts granted so far (at most `perSecond`, oldest first); a ring would do, the limit is small. Each
  // holds the time its function was called: admission reserves the slot at the time it decides, and the
  // call moves it to the (same or later) time the function really starts, so the bound holds for the
  // function's own clock readings, not only for the admissions.
  const starts: Array<{ at: number }> = [];
  let queue: Promise<{ at: number }> = Promise.resolve({ at: 0 });
  const admit = async (): Promise<{ at: number }> => {
    for (;;) {
      const t = now();
      while (starts.length > 0 && starts[0]!.at <= t - WINDOW_MS) starts.shift();
      if (starts.length < perSecond) {
        const slot = { at: t };
        starts.push(slot);
        return slot;
      }
      await new Promise((resolve) => setTimeout(resolve, starts[0]!.at + WINDOW_MS - t));
    }
  };
  return async (task: T) => {
    // One admission at a time, in arrival order.
    const turn = queue.then(admit);
    queue = turn;
    const slot = await turn;
    slot.at = now();
    return fn(task);
  };
}
