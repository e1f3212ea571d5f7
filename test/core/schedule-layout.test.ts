/**
 * schedule.lua's argument layout: plain jobs (new, no key, priority 0, no header extras) travel packed, two
 * arguments per batch (ids concatenated, payloads newline-joined); any other job travels as 7 arguments of
 * its own. A batch mixing both must behave exactly as the same jobs one call at a time.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import { ID_TIME_MAX_MS, idTimeOf } from '../../src/core/ids.js';
import { prepareJob } from '../../src/core/prepare.js';
import { runScript } from '../../src/core/script.js';
import { LUA } from '../../src/core/scripts.generated.js';
import type { ScheduleOptions } from '../../src/index.js';
import { newClient, randomNamespace, snapshotNamespace } from '../support/context.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

describe('schedule.lua argument layout', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** Everything the jobs of `options` leave in Redis, scheduled in one batch or one call at a time. */
  async function bothWays(options: readonly ScheduleOptions[]) {
    const batched = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0, coalesce: false });
    const single = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0, coalesce: false });
    const batchResults = await batched.scheduleMany(options);
    const singleResults = [];
    for (const o of options) singleResults.push(await single.schedule(o));
    return { batched, single, batchResults, singleResults };
  }

  /** A namespace's keys and contents, with its ids replaced by their position in `ids` (ids differ per run). */
  async function normalized(tasks: Scheduler, ids: readonly string[]) {
    const prefix = `{${tasks.engine.namespace}:0}:`;
    const contents: Record<string, unknown> = {};
    for (const key of (await redis.keys(`${prefix}*`)).sort()) {
      const type = await redis.type(key);
      const name = key.slice(prefix.length);
      if (type === 'hash') contents[name] = await redis.hgetall(key);
      else if (type === 'zset') contents[name] = await redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'set') contents[name] = (await redis.smembers(key)).sort();
      else if (type === 'list') contents[name] = await redis.lrange(key, 0, -1);
      else contents[name] = await redis.get(key);
    }
    let text = JSON.stringify(contents);
    ids.forEach((id, i) => {
      text = text.replaceAll(id, `<id${i}>`);
    });
    return JSON.parse(text) as unknown;
  }

  it('a batch mixing plain and keyed, prioritised or optioned jobs writes what single calls write', async () => {
    const options: ScheduleOptions[] = [
      { handler: 'a', payload: { n: 1 }, delayMs: 1000 },
      { handler: 'a', payload: { n: 2 }, delayMs: 1000, key: 'k1' },
      { handler: 'b', payload: { n: 3 }, delayMs: 500 },
      { handler: 'a', payload: { n: 4 }, delayMs: 2000, priority: 7 },
      { handler: 'b', payload: null, delayMs: 300 },
      { handler: 'a', payload: { n: 6 }, delayMs: 1000, maxAttempts: 5 },
      { handler: 'a', payload: { n: 7 }, delayMs: 3000, key: 'k1' }, // upsert of the batch's own key
      { handler: 'b', payload: 'last', delayMs: 100 },
      { handler: 'c', payload: [1, 2], everyMs: 60_000 },
      { handler: 'a', payload: { n: 10 }, at: ID_TIME_MAX_MS + 5000 }, // the id cannot carry its due time
      { handler: 'a', payload: { n: 11 }, delayMs: 3_600_000 }, // parked
      { handler: 'b', payload: { n: 12 }, delayMs: 3_600_000, key: 'k2' }, // parked, keyed
      { handler: 'b', payload: { n: 13 }, delayMs: 7_200_000, key: 'k2' }, // upsert of a job this batch parked
      { handler: 'a', payload: { n: 14 }, delayMs: 1000, key: 'k3' },
      { handler: 'a', payload: { n: 15 }, delayMs: 86_400_000, key: 'k3' }, // parks a job this batch queued
    ];
    const { batched, single, batchResults, singleResults } = await bothWays(options);
    expect(batchResults.map((r) => [r.runAt.getTime(), r.revision])).toEqual(
      singleResults.map((r) => [r.runAt.getTime(), r.revision]),
    );
    // The upsert returns the first job's id, in both.
    expect(batchResults[6]!.id).toBe(batchResults[1]!.id);
    expect(singleResults[6]!.id).toBe(singleResults[1]!.id);
    expect(batchResults[6]!.revision).toBe(1);
    // Handler codes follow first appearance in a call; single calls assign them in the same order here.
    expect(
      await normalized(
        batched,
        batchResults.map((r) => r.id),
      ),
    ).toEqual(
      await normalized(
        single,
        singleResults.map((r) => r.id),
      ),
    );
    const k = batched.engine.keys(0);
    // Single calls take the same paths, so check the contents themselves too.
    for (const i of [0, 2, 3, 4, 5, 6, 7, 8]) {
      const score = await redis.zscore(k.delayed(options[i]!.handler), batchResults[i]!.id);
      expect(score).toBe(String(batchResults[i]!.runAt.getTime()));
      expect((await batched.get(batchResults[i]!.id))?.payload).toEqual(options[i]!.payload);
    }
    expect(await redis.zrange(k.delayed('b'), 0, -1)).toEqual([
      batchResults[7]!.id,
      batchResults[4]!.id,
      batchResults[2]!.id,
    ]);
    expect(await redis.hget(k.jobs, batchResults[4]!.id)).toMatch(/^2\d\nnull$/);
    expect(await redis.hget(k.prio, batchResults[3]!.id)).toBe('7');
    expect(await batched.get(batchResults[9]!.id)).toMatchObject({
      runAt: new Date(ID_TIME_MAX_MS + 5000),
      parked: true,
    });
    // Parked: in no queue, counted per handler (the upserted ones once), their payloads intact.
    for (const i of [9, 10, 12, 14]) {
      expect(await redis.zscore(k.delayed(options[i]!.handler), batchResults[i]!.id)).toBeNull();
      expect((await batched.get(batchResults[i]!.id))?.payload).toEqual(options[i]!.payload);
    }
    expect(await redis.hgetall(k.parkedCount)).toEqual({ a: '3', b: '1' });
    expect(await batched.get('k3')).toMatchObject({ state: 'scheduled', parked: true, revision: 3 });
  });

  it('payloads containing newlines, the record separator, "|" and quotes survive packing', async () => {
    const tricky = [
      'line\nbreak',
      'tab\tand\r\nCRLF',
      '\u001e\u001f\u0000',
      '|||',
      '"\n"',
      { '\n': '\n', nested: ['\u2028', '\u2029', 'é', '😀'] },
      '',
      null,
      0,
    ];
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const results = await tasks.scheduleMany(
      tricky.map((payload) => ({ handler: 'h', payload, delayMs: 10 })),
    );
    const k = tasks.engine.keys(0);
    for (let i = 0; i < tricky.length; i++) {
      const info = await tasks.get(results[i]!.id);
      expect(info?.payload).toEqual(tricky[i]);
      const body = await redis.hget(k.jobs, results[i]!.id);
      expect(body).toBe(`21\n${JSON.stringify(tricky[i])}`);
    }
    expect(await redis.zcard(k.delayed('h'))).toBe(tricky.length);
  });

  it('a job whose payload JSON has a raw newline goes as a full job, intact', async () => {
    // JSON.stringify never writes one; JSON text may still hold one as whitespace.
    const namespace = randomNamespace();
    const engine = new Engine(redis, { namespace });
    const context = { now: T0, maxPayloadBytes: 1024 };
    const plain = prepareJob({ handler: 'h', delayMs: 5, payload: 1 }, context);
    const spaced = { ...prepareJob({ handler: 'h', delayMs: 5 }, context), payloadJson: '[1,\n2]' };
    const { results } = await engine.scheduleBatch(0, [plain, spaced]);
    expect(results).toEqual([
      { id: plain.id, revision: 0 },
      { id: spaced.id, revision: 0 },
    ]);
    expect(await redis.hget(engine.keys(0).jobs, spaced.id)).toBe('21\n[1,\n2]');
    expect(await redis.zscore(engine.keys(0).delayed('h'), spaced.id)).toBe(String(T0 + 5));
  });

  it('more plain jobs than one write chunk, interleaved over handlers, all land with their due times', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    const options: ScheduleOptions[] = [];
    for (let i = 0; i < 2600; i++)
      options.push({
        handler: i % 3 === 0 ? 'x' : 'y',
        payload: i,
        delayMs: 1000 + (i % 7),
        ...(i === 1300 ? { key: 'mid' } : {}),
      });
    const results = await tasks.scheduleMany(options);
    const k = tasks.engine.keys(0);
    expect(new Set(results.map((r) => r.id)).size).toBe(2600);
    expect(await redis.zcard(k.delayed('x'))).toBe(867);
    expect(await redis.zcard(k.delayed('y'))).toBe(1733);
    for (const i of [0, 1, 2, 999, 1000, 1299, 1300, 1301, 2000, 2599]) {
      const { id } = results[i]!;
      const handler = i % 3 === 0 ? 'x' : 'y';
      expect(await redis.zscore(k.delayed(handler), id)).toBe(String(T0 + 1000 + (i % 7)));
      expect(idTimeOf(id)).toBe(T0 + 1000 + (i % 7));
      expect((await tasks.get(id))?.payload).toBe(i);
    }
    expect(await redis.hget(k.keys, 'mid')).toBe(results[1300]!.id);
  });

  it('a plain job that becomes the head of its queue wakes the tick; a later one does not', async () => {
    const namespace = randomNamespace();
    const engine = new Engine(redis, { namespace });
    const context = { now: T0, maxPayloadBytes: 1024 };
    const job = (delayMs: number, handler = 'h') => prepareJob({ handler, delayMs }, context);
    expect((await engine.scheduleBatch(0, [job(5000)])).wake).toBe(true);
    expect((await engine.scheduleBatch(0, [job(6000), job(7000)])).wake).toBe(false);
    expect((await engine.scheduleBatch(0, [job(6000), job(4000)])).wake).toBe(true);
    expect((await engine.scheduleBatch(0, [job(9000), job(9000, 'other')])).wake).toBe(true);
    expect(
      (
        await engine.scheduleBatch(0, [
          job(9000),
          prepareJob({ handler: 'h', delayMs: 1, key: 'k' }, context),
        ])
      ).wake,
    ).toBe(true);
  });

  it('a key conflict anywhere in a mixed batch writes nothing, plain jobs included', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0, coalesce: false });
    await tasks.schedule({ handler: 'a', key: 'taken', delayMs: 10 });
    const before = await snapshotNamespace(redis, tasks.engine.namespace);
    await expect(
      tasks.scheduleMany([
        { handler: 'a', delayMs: 10, payload: 1 },
        { handler: 'b', key: 'taken', delayMs: 10 },
        { handler: 'b', delayMs: 10, payload: 2 },
      ]),
    ).rejects.toMatchObject({ name: 'TicksetKeyHandlerConflictError' });
    expect(await snapshotNamespace(redis, tasks.engine.namespace)).toEqual(before);
  });

  it('an empty batch writes no job and returns no result', async () => {
    const tasks = new Scheduler({ redis, namespace: randomNamespace(), now: () => T0 });
    expect(await tasks.scheduleMany([])).toEqual([]);
    expect(await redis.hlen(tasks.engine.keys(0).jobs)).toBe(0);
  });

  it('arguments that do not follow the layout are refused with nothing written', async () => {
    const namespace = randomNamespace();
    const engine = new Engine(redis, { namespace });
    const k = engine.keys(0);
    const keys = [k.jobs, k.keys, k.prio, k.state, k.handlers, k.seq, k.dead, k.arm, k.meta];
    keys.push(k.handlerCodes, k.handlerNames, k.delayed('h'), k.ready('h'), k.inflight('h'));
    const id = prepareJob({ handler: 'h', delayMs: 1 }, { now: T0, maxPayloadBytes: 1024 }).id;
    const bad: Array<Array<string | number>> = [
      [2, 1, 'h', 2, id, '\nnull\nnull', 0], // 2 plain jobs, 1 id
      [2, 1, 'h', 1, id, 'null', 0], // payload without its leading newline
      [2, 1, 'h', 1, id, '\nnull\nnull', 0], // a payload too many
      [2, 1, 'h', 1, `!${id.slice(1)}`, '\nnull', 0], // not a base-62 due time
      [2, 1, 'h', 0, '', '', 1, id, 1, T0], // a full job cut short
    ];
    for (const args of bad)
      await expect(runScript(redis, LUA.schedule, keys, args)).rejects.toThrow(/TICKSET_BAD_ARGS/);
    expect(await snapshotNamespace(redis, namespace)).toEqual({});
  });
});
