/** Task factories shared by the publisher tests. */
import type { JsonValue, TaskEventDetail } from '../../src/core/types.js';

/** A task event detail with a recognisable id and an optional payload. */
export function makeTask(n: number, payload: JsonValue = { n, note: 'héllo ✓' }): TaskEventDetail {
  return {
    v: 1,
    id: `job-${String(n).padStart(4, '0')}`,
    handler: 'send-reminder',
    payload,
    attempt: 1,
    idempotencyKey: `job-${n}@0#1`,
    scheduledFor: '2026-12-01T09:00:00.000Z',
    claimToken: `claim-${n}`,
    namespace: 'test',
    shard: n % 4,
    leaseUntil: 1_800_000_000_000,
  };
}

export function makeTasks(count: number, from = 0): TaskEventDetail[] {
  return Array.from({ length: count }, (_, i) => makeTask(from + i));
}

/** Never waits: retries happen back to back. */
export const noSleep = async (_ms: number): Promise<void> => {};
