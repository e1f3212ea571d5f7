/**
 * Phase 3 of `taskHandler`: run the function on the task, against its timeout. Returns the result with
 * its COMPLETED-record tail, or the error (a throw, a timeout, a result that cannot be serialised) with
 * the call still running after a timeout (`late.promise`), whose late ack `complete.ts` attaches.
 */
import type { Context } from 'aws-lambda';
import type { Delivery, WrapperSettings } from './delivery.js';
import { completedRecordTail } from './executions.js';
import { contextFor, runWithTimeout } from './timeout.js';
import type { Task } from './types.js';

export type Ran<R> =
  | { readonly ok: true; readonly result: R; readonly recordTail: string }
  | { readonly ok: false; readonly error: unknown; readonly late: { promise?: Promise<unknown> } };

export async function run<R, P>(
  w: WrapperSettings,
  d: Delivery,
  fn: (task: Task<P>, context?: Context) => Promise<R> | R,
  context: Context | undefined,
  started: number,
): Promise<Ran<R>> {
  const { detail } = d;
  const task: Task<P> = {
    id: detail.id,
    handler: detail.handler,
    payload: detail.payload as P,
    attempt: detail.attempt,
    idempotencyKey: detail.idempotencyKey,
    scheduledFor: new Date(d.due),
  };
  const late: { promise?: Promise<unknown> } = {};
  try {
    const fnContext = contextFor(context, w.timeoutMs ?? 60_000, started);
    const result = await runWithTimeout(() => fn(task, fnContext), w.timeoutMs, late);
    return { ok: true, result, recordTail: completedRecordTail(result) };
  } catch (error) {
    return { ok: false, error, late };
  }
}
