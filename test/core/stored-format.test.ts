/**
 * The stored job body: format 2 is what schedule writes (handler code, due time in the id, defaults
 * omitted), and format 1 (written by earlier versions, with 26-character ULID ids) is still read by every
 * transition.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { idTimeOf } from '../../src/core/ids.js';
import { replayDead } from '../../src/core/store/admin.js';
import { KeyHandlerConflictError } from '../../src/errors.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const PAYLOAD_100 = JSON.stringify({ data: 'x'.repeat(89) });

describe('stored format 2', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('a plain one-off job is "2" + handler code + "\\n" + payload, under a 14-character id', async () => {
    expect(PAYLOAD_100).toHaveLength(100);
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const { id } = await tasks.schedule({
      handler: 'first',
      payload: JSON.parse(PAYLOAD_100),
      delayMs: 5000,
    });
    const { id: second } = await tasks.schedule({ handler: 'second', payload: 1, at: T0 + 10 });
    const k = tasks.engine.keys(0);
    expect(id).toMatch(/^[0-9A-Za-z]{14}$/);
    expect(idTimeOf(id)).toBe(T0 + 5000);
    const body = await redis.hget(k.jobs, id);
    expect(body).toBe(`21\n${PAYLOAD_100}`);
    expect(body!.length).toBeLessThanOrEqual(108);
    expect(await redis.hget(k.jobs, second)).toBe('22\n1');
    expect(await redis.hgetall(k.handlerCodes)).toEqual({ first: '1', second: '2' });
    expect(await redis.hgetall(k.handlerNames)).toEqual({ 1: 'first', 2: 'second' });
    expect(await tasks.get(id)).toMatchObject({
      handler: 'first',
      runAt: new Date(T0 + 5000),
      revision: 0,
      idempotencyKey: `${id}:${T0 + 5000}:0`,
    });
  });

  it('non-default fields go into a JSON object; an upsert stores its due time and revision', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const k = tasks.engine.keys(0);
    const first = await tasks.schedule({ handler: 'h', key: 'k1', at: T0 + 1000, maxAttempts: 5 });
    expect(first.revision).toBe(0);
    expect(await redis.hget(k.jobs, first.id)).toBe('21{"m":5,"k":"k1"}\nnull');
    const moved = await tasks.schedule({ handler: 'h', key: 'k1', at: T0 + 2000, payload: 'moved' });
    expect(moved.id).toBe(first.id);
    expect(moved.revision).toBeGreaterThan(0);
    expect(await redis.hget(k.jobs, first.id)).toBe(
      `21{"r":${T0 + 2000},"v":${moved.revision},"k":"k1"}\n"moved"`,
    );
    await expect(tasks.schedule({ handler: 'other', key: 'k1', delayMs: 1 })).rejects.toBeInstanceOf(
      KeyHandlerConflictError,
    );
    now = T0 + 2000;
    const [task] = (await promoteClaim(tasks.engine, [spec('h')], now)).tasks;
    expect(task).toMatchObject({ id: first.id, handler: 'h', payload: 'moved' });
    expect(task!.idempotencyKey).toBe(`${first.id}:${T0 + 2000}:${moved.revision}`);
  });

  it('a due time past what an id holds is stored in the body', async () => {
    const at = Date.UTC(2090, 0, 1);
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const { id } = await tasks.schedule({ handler: 'h', at });
    expect(idTimeOf(id)).toBeLessThan(at);
    expect(await redis.hget(tasks.engine.keys(0).jobs, id)).toBe(`21{"r":${at}}\nnull`);
    expect((await tasks.get(id))?.runAt).toEqual(new Date(at));
  });
});

describe('stored format 1 (ULID ids) is still read', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  const A = '01JE7Q3Z4X5Y6Z7A8B9C0D1E2F';
  const B = '01JE7Q3Z4X5Y6Z7A8B9C0D1E2G';
  const C = '01JE7Q3Z4X5Y6Z7A8B9C0D1E2H';
  const S = '01JE7Q3Z4X5Y6Z7A8B9C0D1E2J';

  it('get, claim, fail, ack, cancel, replay and a series claim work on format-1 bodies', async () => {
    let now = T0;
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => now });
    const e = tasks.engine;
    const k = e.keys(0);
    const write = async (id: string, header: object, payload: string) => {
      await redis.hset(k.jobs, id, `1${JSON.stringify(header)}\n${payload}`);
      await redis.zadd(k.delayed('legacy'), T0, id);
    };
    await redis.sadd(k.handlers, 'legacy');
    await redis.hset(k.meta, 'format', '1');
    await redis.set(k.seq, '20');
    await write(A, { h: 'legacy', r: T0, v: 7, k: 'old-key' }, '{"n":1}');
    await redis.hset(k.keys, 'old-key', A);
    await write(B, { h: 'legacy', r: T0, v: 8 }, '"b"');
    await write(C, { h: 'legacy', r: T0, v: 9, m: 1 }, '"c"');
    await write(S, { h: 'legacy', r: T0, v: 10, e: 60_000 }, '"s"');

    // get, by id and by key
    expect(await tasks.get('old-key')).toMatchObject({
      id: A,
      handler: 'legacy',
      state: 'due',
      revision: 7,
      key: 'old-key',
      payload: { n: 1 },
      idempotencyKey: `${A}:${T0}:7`,
    });

    // cancel
    expect(await tasks.cancel(B)).toBe(true);
    expect(await redis.hexists(k.jobs, B)).toBe(0);

    // claim: A, C and the series' first occurrence
    const first = await promoteClaim(e, [spec('legacy')], now);
    const byId = new Map(first.tasks.map((t) => [t.id, t]));
    expect([...byId.keys()].sort()).toEqual([A, C, `${S}@${T0}`].sort());
    expect(byId.get(A)).toMatchObject({ handler: 'legacy', payload: { n: 1 }, attempt: 1 });
    expect(byId.get(A)!.idempotencyKey).toBe(`${A}:${T0}:7`);
    expect(byId.get(`${S}@${T0}`)!.idempotencyKey).toBe(`${S}:${T0}:10`);
    // The series is rewritten in format 2 (its handler named, as it has no code in this shard).
    expect(await tasks.get(S)).toMatchObject({
      handler: 'legacy',
      runAt: new Date(T0 + 60_000),
      revision: 10,
    });
    expect((await redis.hget(k.jobs, S))!.startsWith('2{')).toBe(true);
    expect(await e.ack(byId.get(`${S}@${T0}`)!)).toBe('acked');

    // fail → retry with the same idempotency key → ack
    const failed = await e.fail(byId.get(A)!, { message: 'boom' }, now);
    expect(failed.outcome).toBe('retry');
    now = failed.retryAt!;
    const [retry] = (await promoteClaim(e, [spec('legacy')], now)).tasks;
    expect(retry).toMatchObject({ id: A, attempt: 2, idempotencyKey: `${A}:${T0}:7` });
    expect(await e.ack(retry!)).toBe('acked');
    expect(await tasks.get(A)).toBeUndefined();
    expect(await redis.hexists(k.keys, 'old-key')).toBe(0);

    // fail → dead (maxAttempts 1) → replay: a new revision, so a new idempotency key
    expect((await e.fail(byId.get(C)!, { message: 'boom' }, now)).outcome).toBe('dead');
    expect(await replayDead(e, C, now)).toBe(1);
    const replayed = await tasks.get(C);
    expect(replayed).toMatchObject({ handler: 'legacy', state: 'due', revision: 21, maxAttempts: 1 });
    const [again] = (await promoteClaim(e, [spec('legacy')], now)).tasks;
    expect(again).toMatchObject({ id: C, payload: 'c', attempt: 1, idempotencyKey: `${C}:${now}:21` });
    expect(await e.ack(again!)).toBe('acked');
  });

  it('an upsert of a format-1 job checks its handler by name and rewrites it in format 2', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const k = tasks.engine.keys(0);
    await redis.hset(k.jobs, A, `1${JSON.stringify({ h: 'legacy', r: T0, v: 3, k: 'kk' })}\n1`);
    await redis.hset(k.keys, 'kk', A);
    await redis.zadd(k.delayed('legacy'), T0, A);
    await expect(tasks.schedule({ handler: 'other', key: 'kk', delayMs: 1 })).rejects.toMatchObject({
      name: 'TicksetKeyHandlerConflictError',
    });
    const upserted = await tasks.schedule({ handler: 'legacy', key: 'kk', at: T0 + 500, payload: 2 });
    expect(upserted.id).toBe(A);
    expect(await redis.hget(k.jobs, A)).toBe(`21{"r":${T0 + 500},"v":${upserted.revision},"k":"kk"}\n2`);
    expect(await tasks.get('kk')).toMatchObject({ id: A, handler: 'legacy', runAt: new Date(T0 + 500) });
  });
});
