import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, oneLineError, seeded } from './run.js';

interface ListDoc {
  state: string;
  count: number;
  jobs: Array<{ id: string; handler: string; state: string; lastReason?: string; lastError?: string }>;
}

describe('tickset list', () => {
  let ns: ReturnType<typeof seeded>;
  let inflight: string[];
  let dead: string[];
  beforeAll(async () => {
    ns = seeded('list');
    await ns.scheduler.scheduleMany([
      { handler: 'send-reminder', at: Date.now() - 2000, payload: 1 },
      { handler: 'send-reminder', at: Date.now() - 1000, payload: 2 },
      { handler: 'sync-device', at: Date.now() - 500, payload: 3 },
      { handler: 'send-reminder', delayMs: 3_600_000, key: 'later' },
    ]);
    inflight = (await ns.claimNow('charge-card', 2)).map((t) => t.id);
    dead = await ns.makeDead('broken-webhook', 1, 'HTTP 503 Service Unavailable');
  });
  afterAll(async () => {
    await ns.close();
  });

  it('lists due jobs by default, oldest first, with a table header', async () => {
    const result = await ns.cli(['list']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+HANDLER\s+RUN AT\s+ATTEMPT\s+KEY$/);
    expect(lines).toHaveLength(4);
    const doc = json<ListDoc>(await ns.run(['list', '--json']));
    expect(doc.state).toBe('due');
    expect(doc.count).toBe(3);
    expect(doc.jobs.map((j) => j.state)).toEqual(['due', 'due', 'due']);
  });

  it('filters by --handler and caps with --limit', async () => {
    const doc = json<ListDoc>(await ns.run(['list', '--handler', 'send-reminder', '--json']));
    expect(doc.jobs.map((j) => j.handler)).toEqual(['send-reminder', 'send-reminder']);
    const one = json<ListDoc>(await ns.run(['list', '--limit', '1', '--json']));
    expect(one.count).toBe(1);
  });

  it('lists scheduled, in-flight and dead jobs', async () => {
    const scheduled = json<ListDoc>(await ns.run(['list', '--state', 'scheduled', '--json']));
    expect(scheduled.jobs).toHaveLength(1);
    const inflightDoc = json<ListDoc>(await ns.run(['list', '--state', 'inflight', '--json']));
    expect(inflightDoc.jobs.map((j) => j.id).sort()).toEqual([...inflight].sort());
    const deadText = await ns.cli(['list', '--state', 'dead']);
    expect(deadText.stdout).toMatch(/^ID\s+HANDLER\s+FAILED\s+ATTEMPT\s+KEY\s+REASON$/m);
    expect(deadText.stdout).toContain('error: HTTP 503 Service Unavailable');
    const deadDoc = json<ListDoc>(await ns.run(['list', '--state', 'dead', '--json']));
    expect(deadDoc.jobs).toMatchObject([
      { id: dead[0], lastReason: 'error', lastError: 'HTTP 503 Service Unavailable' },
    ]);
  });

  it('says so when nothing matches', async () => {
    const result = await ns.run(['list', '--handler', 'nobody']);
    expect(result.stdout).toBe('no due jobs for handler nobody\n');
  });

  it.each([
    [['--state', 'done'], 'tickset: invalid --state "done": expected one of due, inflight, dead, scheduled'],
    [['--limit', '0'], 'tickset: invalid --limit "0": expected an integer from 1 to 10000'],
    [['--limit', 'many'], 'tickset: invalid --limit "many": expected an integer from 1 to 10000'],
  ])('rejects %j', async (flags, message) => {
    const result = await ns.run(['list', ...flags]);
    expect(result.code).toBe(1);
    expect(oneLineError(result)).toBe(message);
  });
});

describe('tickset dead replay / purge', () => {
  let ns: ReturnType<typeof seeded>;
  beforeAll(() => {
    ns = seeded('dead');
  });
  afterAll(async () => {
    await ns.close();
  });

  it('replays one dead job: due now, attempts reset', async () => {
    const [id] = await ns.makeDead('broken-webhook');
    const before = await ns.scheduler.get(id!);
    expect(before).toMatchObject({ state: 'dead', lastReason: 'error' });
    const result = await ns.cli(['dead', 'replay', id!]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`replayed ${id} (broken-webhook): due now\n`);
    const after = await ns.scheduler.get(id!);
    expect(after).toMatchObject({ state: 'due', attempt: 0 });
    expect(after!.idempotencyKey).not.toBe(before!.idempotencyKey);

    const again = await ns.run(['dead', 'replay', id!]);
    expect(again.code).toBe(1);
    expect(oneLineError(again)).toBe(`tickset: job ${id} is not dead (it is due)`);
  });

  it('replays all dead jobs with --all', async () => {
    await ns.makeDead('broken-webhook', 3);
    const doc = json<{ replayed: number }>(await ns.cli(['dead', 'replay', '--all', '--json']));
    expect(doc.replayed).toBe(3);
    expect((await ns.scheduler.stats()).dead).toBe(0);
  });

  it('needs an id or --all, not both', async () => {
    for (const args of [
      ['dead', 'replay'],
      ['dead', 'replay', 'x', '--all'],
    ]) {
      const result = await ns.run(args);
      expect(result.code).toBe(1);
      expect(oneLineError(result)).toMatch(/dead replay takes either a job id or key, or --all/);
    }
    const missing = await ns.run(['dead', 'replay', 'nope']);
    expect(missing.code).toBe(1);
    oneLineError(missing);
  });

  it('purges only older jobs with --older-than, and all by default', async () => {
    await ns.makeDead('broken-webhook', 2);
    const young = json<{ purged: number }>(await ns.run(['dead', 'purge', '--older-than', '7d', '--json']));
    expect(young.purged).toBe(0);
    expect((await ns.scheduler.stats()).dead).toBe(2);
    const all = await ns.cli(['dead', 'purge']);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe('purged 2 dead jobs\n');
    expect((await ns.scheduler.stats()).dead).toBe(0);
    const bad = await ns.run(['dead', 'purge', '--older-than', 'a week']);
    expect(bad.code).toBe(1);
    expect(oneLineError(bad)).toMatch(/^tickset: invalid --older-than "a week"/);
  });
});
