import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, oneLineError, seeded } from './run.js';

describe('tickset status / pause / resume', () => {
  let ns: ReturnType<typeof seeded>;
  beforeAll(async () => {
    ns = seeded('status');
    await ns.scheduler.schedule({ handler: 'send-reminder', payload: { u: 1 }, delayMs: 60_000 });
    await ns.scheduler.schedule({ handler: 'send-reminder', payload: { u: 2 }, at: Date.now() - 5000 });
    await ns.makeDead('broken-webhook');
  });
  afterAll(async () => {
    await ns.close();
  });

  it('shows counts per state and per handler, and a tick never seen', async () => {
    const text = await ns.cli(['status']);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain('never seen');
    expect(text.stdout).toMatch(/scheduled 1 {2}due 1 {2}in flight 0 {2}dead 1/);
    expect(text.stdout).toMatch(/send-reminder\s+1\s+1\s+0\s+0\s+\S+\s+active/);
    expect(text.stdout).toMatch(/broken-webhook\s+0\s+0\s+0\s+1/);

    const doc = json<{
      namespace: string;
      tick: { state: string };
      scheduled: number;
      due: number;
      dead: number;
      oldestDueAgeMs: number;
      handlers: Record<string, { due: number; paused: boolean }>;
    }>(await ns.run(['status', '--json']));
    expect(doc).toMatchObject({
      namespace: ns.namespace,
      tick: { state: 'never-seen' },
      scheduled: 1,
      due: 1,
      dead: 1,
    });
    expect(doc.oldestDueAgeMs).toBeGreaterThan(0);
    expect(doc.handlers['send-reminder']).toMatchObject({ due: 1, paused: false });
  });

  it('counts parked jobs among the scheduled ones, and says how many are parked', async () => {
    const parked = seeded('status-parked');
    try {
      await parked.scheduler.schedule({ handler: 'send-reminder', delayMs: 3_600_000 });
      await parked.scheduler.schedule({ handler: 'send-reminder', delayMs: 60_000 });
      expect((await parked.cli(['status'])).stdout).toMatch(/scheduled 2 \(1 parked\) {2}due 0/);
      const doc = json<{ scheduled: number; parked: number; handlers: Record<string, unknown> }>(
        await parked.run(['status', '--json']),
      );
      expect(doc).toMatchObject({ scheduled: 2, parked: 1 });
      expect(doc.handlers['send-reminder']).toMatchObject({ scheduled: 2, parked: 1 });
    } finally {
      await parked.close();
    }
  });

  it('says whether the tick is alive from its heartbeat', async () => {
    await ns.redis.hset(ns.engine.global.heartbeat, {
      at: Date.now() - 3000,
      owner: 'host-1',
      mode: 'second',
    });
    const alive = await ns.run(['--json', 'status']);
    expect(json<{ tick: { state: string; ageMs: number } }>(alive).tick).toMatchObject({ state: 'alive' });
    expect((await ns.run(['status'])).stdout).toMatch(/tick\s+alive: last heartbeat \d/);

    await ns.redis.hset(ns.engine.global.heartbeat, { at: Date.now() - 300_000 });
    const stale = await ns.run(['status']);
    expect(stale.stdout).toMatch(/NOT RUNNING: last heartbeat 5m( 0\ds)? ago/);
  });

  it('pause makes status show the handler paused; resume undoes it', async () => {
    const paused = await ns.cli(['pause', 'send-reminder']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('paused send-reminder');
    const again = json(await ns.run(['pause', 'send-reminder', '--json']));
    expect(again).toEqual({ handler: 'send-reminder', paused: true, changed: false });

    const status = await ns.cli(['status']);
    expect(status.stdout).toMatch(/paused\s+send-reminder/);
    expect(status.stdout).toMatch(/send-reminder\s+1\s+1\s+0\s+0\s+\S+\s+PAUSED/);
    const doc = json<{ paused: string[]; handlers: Record<string, { paused: boolean }> }>(
      await ns.run(['status', '--json']),
    );
    expect(doc.paused).toEqual(['send-reminder']);
    expect(doc.handlers['send-reminder']?.paused).toBe(true);

    const resumed = json(await ns.run(['resume', 'send-reminder', '--json']));
    expect(resumed).toEqual({ handler: 'send-reminder', paused: false, changed: true });
    expect(json<{ paused: string[] }>(await ns.run(['status', '--json'])).paused).toEqual([]);
  });

  it('pausing a handler with no jobs still lists it', async () => {
    await ns.run(['pause', 'not-deployed-yet']);
    const doc = json<{ handlers: Record<string, { paused: boolean; due: number }> }>(
      await ns.run(['status', '--json']),
    );
    expect(doc.handlers['not-deployed-yet']).toMatchObject({ paused: true, due: 0 });
    await ns.run(['resume', 'not-deployed-yet']);
  });

  it('rejects a bad handler name before connecting', async () => {
    const result = await ns.run(['pause', 'bad name!']);
    expect(result.code).toBe(1);
    expect(oneLineError(result)).toContain('invalid <handler> "bad name!"');
  });
});
