/**
 * The DST rule for cron series (README "Recurring jobs", docs/OPERATIONS.md "Time zones and DST"), with the
 * exact instants written out, on both transitions of three zones: Europe/Berlin and America/New_York (1-hour
 * shifts) and Australia/Lord_Howe (a 30-minute shift).
 *
 * - Gap (spring forward): a local time that does not exist that day runs at the first valid instant after
 *   the gap (its end), once.
 * - Overlap (fall back): a local time that happens twice runs once, at its first (daylight-time) instant.
 * - A field left as `*` (e.g. every 15 minutes) follows real time: every real instant that matches runs,
 *   so the repeated hour's quarter hours run in both passes.
 *
 * Each case goes through the whole path: schedule (first occurrence), claim at the due time, ack, arm the
 * next occurrence (Node computes it), claim again.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { newClient, randomNamespace } from '../support/context.js';
import { delayedScore, promoteClaim, spec } from '../support/drive.js';

/** Fires a cron series from `startMs` until `count` occurrences ran; returns their instants (ISO, UTC). */
async function fire(redis: Redis, cron: string, timezone: string, startIso: string, count: number) {
  let now = Date.parse(startIso);
  const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
  const e = tasks.engine;
  const { id, runAt } = await tasks.schedule({ handler: 'dst', cron, timezone });
  const fired: string[] = [];
  let due = runAt.getTime();
  while (fired.length < count) {
    // One ms before the due time nothing is claimed: the occurrence is not early.
    now = due - 1;
    expect((await promoteClaim(e, [spec('dst')], now)).tasks).toHaveLength(0);
    now = due;
    const { tasks: claimed } = await promoteClaim(e, [spec('dst')], now);
    expect(claimed.map((t) => t.id)).toEqual([`${id}@${due}`]);
    fired.push(new Date(due).toISOString());
    expect(await e.ack(claimed[0]!)).toBe('acked');
    await e.armPending(0, now);
    due = (await delayedScore(e, 'dst', id))!;
  }
  return fired;
}

describe('cron series across DST transitions', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  describe('gap (spring forward): the first valid instant after the gap, once', () => {
    it('Europe/Berlin 2026-03-29 (02:00 -> 03:00): 02:30 runs at 03:00 CEST', async () => {
      expect(await fire(redis, '30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', 3)).toEqual([
        '2026-03-28T01:30:00.000Z', // 02:30 CET
        '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:30 does not exist
        '2026-03-30T00:30:00.000Z', // 02:30 CEST
      ]);
    });

    it('America/New_York 2026-03-08 (02:00 -> 03:00): 02:30 runs at 03:00 EDT', async () => {
      expect(await fire(redis, '30 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 3)).toEqual([
        '2026-03-07T07:30:00.000Z', // 02:30 EST
        '2026-03-08T07:00:00.000Z', // 03:00 EDT
        '2026-03-09T06:30:00.000Z', // 02:30 EDT
      ]);
    });

    it('Australia/Lord_Howe 2026-10-04 (02:00 -> 02:30, a 30-minute shift): 02:15 runs at 02:30', async () => {
      expect(await fire(redis, '15 2 * * *', 'Australia/Lord_Howe', '2026-10-02T00:00:00Z', 3)).toEqual([
        '2026-10-02T15:45:00.000Z', // 02:15 +10:30
        '2026-10-03T15:30:00.000Z', // 02:30 +11: 02:15 does not exist
        '2026-10-04T15:15:00.000Z', // 02:15 +11
      ]);
    });
  });

  describe('overlap (fall back): once, at the first (daylight-time) instant', () => {
    it('Europe/Berlin 2026-10-25 (03:00 -> 02:00): 02:30 runs once, at 02:30 CEST', async () => {
      expect(await fire(redis, '30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00:00Z', 3)).toEqual([
        '2026-10-24T00:30:00.000Z', // 02:30 CEST
        '2026-10-25T00:30:00.000Z', // 02:30 CEST; not again at 02:30 CET (01:30Z)
        '2026-10-26T01:30:00.000Z', // 02:30 CET
      ]);
    });

    it('America/New_York 2026-11-01 (02:00 -> 01:00): 01:30 runs once, at 01:30 EDT', async () => {
      expect(await fire(redis, '30 1 * * *', 'America/New_York', '2026-10-31T00:00:00Z', 3)).toEqual([
        '2026-10-31T05:30:00.000Z', // 01:30 EDT
        '2026-11-01T05:30:00.000Z', // 01:30 EDT; not again at 01:30 EST (06:30Z)
        '2026-11-02T06:30:00.000Z', // 01:30 EST
      ]);
    });

    it('Australia/Lord_Howe 2026-04-05 (02:00 -> 01:30): 01:45 runs once, at 01:45 +11', async () => {
      expect(await fire(redis, '45 1 * * *', 'Australia/Lord_Howe', '2026-04-03T00:00:00Z', 3)).toEqual([
        '2026-04-03T14:45:00.000Z', // 01:45 +11
        '2026-04-04T14:45:00.000Z', // 01:45 +11; not again at 01:45 +10:30 (15:15Z)
        '2026-04-05T15:15:00.000Z', // 01:45 +10:30
      ]);
    });
  });

  it('a wildcard hour follows real time: every 15 minutes runs in both passes of the repeated hour', async () => {
    const fired = await fire(redis, '*/15 * * * *', 'Europe/Berlin', '2026-10-24T23:55:00Z', 9);
    expect(fired).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST, first pass
      '2026-10-25T00:15:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T00:45:00.000Z',
      '2026-10-25T01:00:00.000Z', // 02:00 CET, second pass
      '2026-10-25T01:15:00.000Z',
      '2026-10-25T01:30:00.000Z',
      '2026-10-25T01:45:00.000Z',
      '2026-10-25T02:00:00.000Z', // 03:00 CET
    ]);
  });
});
