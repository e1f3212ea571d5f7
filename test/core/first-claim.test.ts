/**
 * A job's first claim writes no claim state (claim.lua): it is fenced by its token, which names its lease
 * deadline and its id, against the job's in-flight score. Every step that takes a claimed job out of
 * in-flight and keeps it leaves a state entry, so a later claim writes its token and an earlier claim's
 * late ack is rejected even when both claims share a lease deadline (two clocks that disagree).
 */
import { describe, expect, it } from 'vitest';
import { parseState } from '../../src/core/codec.js';
import { replayDead } from '../../src/core/store/admin.js';
import { spec } from '../support/drive.js';
import { schedulerFixture } from '../support/scheduler-fixture.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('first claims', () => {
  const fixture = schedulerFixture(T0);
  const { setup } = fixture;

  it('write no state; the token names the lease deadline and the id; only the exact token acks', async () => {
    const { tasks, e, k } = setup();
    await tasks.schedule({ handler: 'h', at: T0, payload: 'a' });
    await tasks.schedule({ handler: 'h', at: T0, payload: 'b' });
    const [a, b] = (await e.claim(0, [spec('h', 10, { leaseMs: 5000 })], T0)).tasks;
    expect(a!.leaseUntil).toBe(T0 + 5000);
    expect(a!.claimToken).toMatch(new RegExp(`^${T0 + 5000}\\.[A-Za-z0-9_-]+\\.${a!.id}$`));
    expect(await fixture.redis.hlen(k.state)).toBe(0);
    expect(await fixture.redis.zscore(k.inflight('h'), a!.id)).toBe(String(T0 + 5000));

    const [deadline, prefix] = a!.claimToken.split('.');
    for (const claimToken of [
      b!.claimToken, // another job's claim, same lease
      `${deadline}.${prefix}.${b!.id}`,
      `${T0 + 4999}.${prefix}.${a!.id}`, // another lease
      `${deadline}.${prefix}.x${a!.id}`,
      `${deadline}${a!.id}`,
      a!.id,
      'garbage',
    ]) {
      expect(await e.ack({ ...a!, claimToken })).toBe('stale');
      expect((await e.fail({ ...a!, claimToken }, { message: 'no' }, T0)).outcome).toBe('stale');
      expect(await e.release({ ...a!, claimToken }, T0, 'no')).toBe(false);
    }
    expect(await fixture.redis.zcard(k.inflight('h'))).toBe(2);
    expect(await fixture.redis.hlen(k.state)).toBe(0);

    expect((await tasks.get(a!.id))?.attempt).toBe(1);
    expect(await e.ack(a!)).toBe('acked');
    expect(await e.ack(b!)).toBe('acked');
    expect(await fixture.redis.exists(k.jobs, k.state, k.inflight('h'))).toBe(0);
  });

  it('a failed first claim is attempt 1: its retry writes its token, and the first token is stale', async () => {
    const { tasks, e, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', at: T0, payload: 'p', maxAttempts: 2 });
    const [first] = (await e.claim(0, [spec('h', 10)], T0)).tasks;
    const failed = await e.fail(first!, { message: 'boom' }, T0);
    expect(failed).toMatchObject({ outcome: 'retry', attempt: 1 });
    expect(parseState(await fixture.redis.hget(k.state, id))).toMatchObject({ attempt: 1, reason: 'error' });

    const [second] = (await e.claim(0, [spec('h', 10)], failed.retryAt!)).tasks;
    expect(second).toMatchObject({ id, attempt: 2 });
    expect(parseState(await fixture.redis.hget(k.state, id)).token).toBe(second!.claimToken);
    expect(await e.ack(first!)).toBe('stale');
    expect(await e.ack(second!)).toBe('acked');
  });

  it('a released first claim is claimed again as attempt 1, with its token in the state', async () => {
    const { tasks, e, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', at: T0, payload: 'p' });
    const [first] = (await e.claim(0, [spec('h', 10)], T0)).tasks;
    expect(await e.release(first!, T0, 'publish failed')).toBe(true);
    const [second] = (await e.claim(0, [spec('h', 10)], T0)).tasks;
    // Same clock, same lease: the same deadline. The state tells the claims apart.
    expect(second).toMatchObject({ id, attempt: 1, leaseUntil: first!.leaseUntil });
    expect(parseState(await fixture.redis.hget(k.state, id)).token).toBe(second!.claimToken);
    expect(await e.ack(first!)).toBe('stale');
    expect(await e.ack(second!)).toBe('acked');
  });

  it('an expired first lease counts as attempt 1 (dead at maxAttempts 1, with reason lease-expired)', async () => {
    const { tasks, e, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', at: T0, payload: 'p', maxAttempts: 1 });
    await e.claim(0, [spec('h', 10, { leaseMs: 100 })], T0);
    expect(await e.requeueExpired(0, ['h'], T0 + 100, 100)).toEqual({ requeued: 0, dead: 1 });
    expect(parseState(await fixture.redis.hget(k.state, id))).toMatchObject({
      attempt: 1,
      reason: 'lease-expired',
    });
  });

  it('an upsert of a claimed job: the late ack of its claim is rejected, even with the same lease deadline', async () => {
    const { tasks, e, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', key: 'k1', at: T0, payload: 'old' });
    const [old] = (await e.claim(0, [spec('h', 10)], T0)).tasks;
    await tasks.schedule({ handler: 'h', key: 'k1', at: T0, payload: 'new' });
    expect(parseState(await fixture.redis.hget(k.state, id)).attempt).toBe(0);
    const [fresh] = (await e.claim(0, [spec('h', 10)], T0)).tasks;
    expect(fresh).toMatchObject({ id, payload: 'new', attempt: 1, leaseUntil: old!.leaseUntil });
    expect(await e.ack(old!)).toBe('stale');
    expect((await e.fail(old!, { message: 'late' }, T0)).outcome).toBe('stale');
    expect(await e.ack(fresh!)).toBe('acked');
  });

  it('an upsert of a job never claimed leaves no state: its claim is a first claim', async () => {
    const { tasks, e, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', key: 'k2', at: T0 + 60_000, payload: 'old' });
    await tasks.schedule({ handler: 'h', key: 'k2', at: T0, payload: 'new' });
    expect(await fixture.redis.hexists(k.state, id)).toBe(0);
    const [task] = (await e.claim(0, [spec('h', 10)], T0)).tasks;
    expect(task).toMatchObject({ id, payload: 'new', attempt: 1 });
    expect(await fixture.redis.hexists(k.state, id)).toBe(0);
    expect(await e.ack(task!)).toBe('acked');
  });

  it('a replayed dead job: the late ack of its lost claim is rejected, even with the same lease deadline', async () => {
    const { tasks, e, k } = setup();
    const { id } = await tasks.schedule({ handler: 'h', at: T0, payload: 'p', maxAttempts: 1 });
    const [lost] = (await e.claim(0, [spec('h', 10, { leaseMs: 100 })], T0)).tasks;
    expect(await e.requeueExpired(0, ['h'], T0 + 100, 100)).toEqual({ requeued: 0, dead: 1 });
    // Replayed and claimed by a process whose clock is 50 ms behind: the new lease ends when the lost one did.
    expect(await replayDead(e, id, T0 + 50)).toBe(1);
    expect(parseState(await fixture.redis.hget(k.state, id)).attempt).toBe(0);
    const [replayed] = (await e.claim(0, [spec('h', 10, { leaseMs: 50 })], T0 + 50)).tasks;
    expect(replayed).toMatchObject({ id, attempt: 1, leaseUntil: lost!.leaseUntil });
    expect(await e.ack(lost!)).toBe('stale');
    expect(await e.ack(replayed!)).toBe('acked');
  });
});
