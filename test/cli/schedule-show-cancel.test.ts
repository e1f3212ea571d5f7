import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotNamespace } from '../support/context.js';
import { json, oneLineError, seeded } from './run.js';

describe('tickset schedule / show / cancel', () => {
  let ns: ReturnType<typeof seeded>;
  beforeAll(() => {
    ns = seeded('sched');
  });
  afterAll(async () => {
    await ns.close();
  });

  it('schedules with --in and shows the job by id and by key', async () => {
    const before = Date.now();
    const result = await ns.cli([
      'schedule',
      '--handler',
      'send-reminder',
      '--in',
      '1h30m',
      '--payload',
      '{"userId":42}',
      '--key',
      'reminder:42',
      '--priority',
      '5',
      '--max-attempts',
      '4',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(
      /^scheduled \w{14} for send-reminder \(key reminder:42\): due .* \(in 1h (29|30)m\)/,
    );
    const id = /scheduled (\w{14})/.exec(result.stdout)![1]!;

    const job = await ns.scheduler.get(id);
    expect(job).toMatchObject({
      handler: 'send-reminder',
      payload: { userId: 42 },
      priority: 5,
      maxAttempts: 4,
    });
    expect(job!.runAt!.getTime() - before).toBeGreaterThanOrEqual(5_400_000);

    const shown = await ns.cli(['show', 'reminder:42']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^state\s+scheduled \(parked\)$/m); // due in 1 h 30 min: parked
    expect(shown.stdout).toMatch(/^attempt\s+0 of 4$/m);
    expect(shown.stdout).toMatch(/^payload\s+\{"userId":42\}$/m);

    const doc = json(await ns.run(['show', id, '--json']));
    expect(doc).toMatchObject({
      id,
      handler: 'send-reminder',
      state: 'scheduled',
      parked: true,
      key: 'reminder:42',
      priority: 5,
    });
  });

  it('upserts by --key and prints JSON with --json', async () => {
    const first = json<{ id: string; revision: number }>(
      await ns.cli(['schedule', '--handler', 'h', '--at', '2030-01-01T00:00:00Z', '--key', 'k1', '--json']),
    );
    const second = json<{ id: string; revision: number; runAt: string }>(
      await ns.run(['schedule', '--handler', 'h', '--at', '1893456000000', '--key', 'k1', '--json']),
    );
    expect(second.id).toBe(first.id);
    expect(second.revision).toBeGreaterThan(first.revision);
    expect(second.runAt).toBe('2030-01-01T00:00:00.000Z');
  });

  it('schedules a 6-field cron with a time zone, and an interval', async () => {
    const cron = json<{ id: string; runAt: string }>(
      await ns.run([
        'schedule',
        '--handler',
        'rollup',
        '--cron',
        '*/3 * * * * *',
        '--tz',
        'Europe/Berlin',
        '--json',
      ]),
    );
    expect(new Date(cron.runAt).getUTCSeconds() % 3).toBe(0);
    expect(json(await ns.run(['show', cron.id, '--json']))).toMatchObject({
      cron: '*/3 * * * * *',
      timezone: 'Europe/Berlin',
    });
    const every = await ns.run(['schedule', '--handler', 'sync', '--every', '5m']);
    expect(every.code).toBe(0);
    const id = /scheduled (\w{14})/.exec(every.stdout)![1]!;
    expect((await ns.run(['show', id])).stdout).toMatch(/^runs\s+every 5m$/m);
  });

  it.each([
    [['--in', '3q'], /^tickset: invalid --in "3q": expected a duration such as/],
    [['--every', 'soon'], /^tickset: invalid --every "soon"/],
    [['--at', 'tomorrow'], /^tickset: invalid --at "tomorrow": expected an ISO 8601 time/],
    [
      ['--cron', 'not a cron'],
      /^tickset: invalid --cron "not a cron": expected a cron expression of 5 fields/,
    ],
    [['--cron', '99 * * * *'], /^tickset: invalid --cron "99 \* \* \* \*": expected a valid cron expression/],
    [
      ['--cron', '* * * * *', '--tz', 'Mars/Olympus'],
      /^tickset: invalid --tz "Mars\/Olympus": expected an IANA time zone/,
    ],
    [['--every', '50ms'], /^tickset: invalid --every "50ms": expected/],
    [['--in', '5m', '--payload', '{oops}'], /^tickset: invalid --payload "\{oops\}": expected valid JSON/],
    [
      ['--in', '5m', '--priority', '101'],
      /^tickset: invalid --priority "101": expected an integer from 0 to 100/,
    ],
    [
      ['--in', '5m', '--at', '2030-01-01'],
      /^tickset: schedule takes only one of --at, --in, --cron or --every/,
    ],
    [[], /^tickset: schedule needs one of --at, --in, --cron or --every/],
    [['--in', '5m', '--tz', 'UTC'], /^tickset: --tz only goes with --cron/],
  ])('rejects %j with exit 1 and one line', async (flags, message) => {
    const before = await snapshotNamespace(ns.redis, ns.namespace);
    const result = await ns.run(['schedule', '--handler', 'h', ...flags]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(oneLineError(result)).toMatch(message);
    expect(await snapshotNamespace(ns.redis, ns.namespace)).toEqual(before);
  });

  it('reports a bad duration and a bad cron from a real process: exit 1, one line, no stack', async () => {
    const duration = await ns.cli(['schedule', '--handler', 'h', '--in', '10 minutes']);
    expect(duration.code).toBe(1);
    expect(duration.stdout).toBe('');
    expect(oneLineError(duration)).toMatch(/^tickset: invalid --in "10 minutes": expected a duration/);
    const cron = await ns.cli(['schedule', '--handler', 'h', '--cron', '61 * * * *', '--json']);
    expect(cron.code).toBe(1);
    expect(cron.stdout).toBe('');
    expect(oneLineError(cron)).toMatch(
      /^tickset: invalid --cron "61 \* \* \* \*": expected a valid cron expression/,
    );
  });

  it('requires --handler', async () => {
    const result = await ns.run(['schedule', '--in', '5m']);
    expect(result.code).toBe(1);
    expect(oneLineError(result)).toMatch(/required option '--handler <name>' not specified/);
  });

  it('show and cancel of a missing job exit 1', async () => {
    const show = await ns.cli(['show', 'no-such-job']);
    expect(show.code).toBe(1);
    expect(oneLineError(show)).toBe(
      `tickset: no job with id or key "no-such-job" in namespace "${ns.namespace}"`,
    );
    const cancel = await ns.run(['cancel', 'no-such-job', '--json']);
    expect(cancel.code).toBe(1);
    expect(cancel.stdout).toBe('');
    oneLineError(cancel);
  });

  it('cancels by key and by id', async () => {
    const { id } = await ns.scheduler.schedule({ handler: 'h', delayMs: 60_000, key: 'to-cancel' });
    const byKey = await ns.cli(['cancel', 'to-cancel']);
    expect(byKey.code).toBe(0);
    expect(byKey.stdout).toBe('cancelled to-cancel\n');
    expect(await ns.scheduler.get(id)).toBeUndefined();

    const other = await ns.scheduler.schedule({ handler: 'h', delayMs: 60_000 });
    expect(json(await ns.run(['cancel', other.id, '--json']))).toEqual({
      cancelled: true,
      idOrKey: other.id,
    });
    expect(await ns.scheduler.get(other.id)).toBeUndefined();
  });
});
