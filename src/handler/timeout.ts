/**
 * Running the user's function against the wrapper's timeout: a call past `timeoutMs` counts as failed
 * (reason `timeout`), and the still-running call is handed back so that its late ack can be attached only
 * after the failure is recorded (it must never reach Redis first).
 */
import type { Context } from 'aws-lambda';
import { TicksetError } from '../errors.js';

export class TaskTimeoutError extends TicksetError {
  override readonly name = 'TicksetTaskTimeoutError';
}

/** What `fn` receives as its context outside Lambda: the time left before its timeout. */
export class LocalContext {
  readonly #timeoutMs: number;
  readonly #start: number;
  constructor(timeoutMs: number, start: number) {
    this.#timeoutMs = timeoutMs;
    this.#start = start;
  }
  getRemainingTimeInMillis(): number {
    return Math.max(1, this.#timeoutMs - (Date.now() - this.#start));
  }
}

const ignore = (): undefined => undefined;

/**
 * Calls `call()`. Past `timeoutMs` the result rejects with TaskTimeoutError and the call, still running,
 * is left in `late.promise`. Without `timeoutMs` the call's own promise is returned.
 */
export function runWithTimeout<R>(
  call: () => Promise<R> | R,
  timeoutMs: number | undefined,
  late: { promise?: Promise<unknown> },
): Promise<R> {
  let promise: Promise<R>;
  try {
    promise = Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
  if (timeoutMs === undefined) return promise;
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      promise.catch(ignore);
      late.promise = promise;
      reject(new TaskTimeoutError(`handler did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    promise.then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The context `fn` gets: Lambda's own, or a LocalContext counting down from `started`. */
export function contextFor(context: Context | undefined, timeoutMs: number, started: number): Context {
  return context ?? (new LocalContext(timeoutMs, started) as unknown as Context);
}
