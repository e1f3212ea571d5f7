/**
 * The tick Lambda adapter, configured only through the environment, publishing through the real
 * EventBridgeClient to a loopback PutEvents server (AWS_ENDPOINT_URL_EVENTBRIDGE).
 */
import type { Context } from 'aws-lambda';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { Engine } from '../../src/core/engine.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { newClient, randomNamespace, redisUrl } from '../support/context.js';
import { type EventBridgeLoopback, startEventBridgeLoopback } from '../support/eventbridge-loopback.js';

let redis: Redis;
let bus: EventBridgeLoopback;
const saved = { ...process.env };

beforeAll(async () => {
  redis = newClient();
  bus = await startEventBridgeLoopback();
});
afterAll(async () => {
  await redis.quit();
  await bus.close();
});

let namespace: string;
beforeEach(() => {
  namespace = randomNamespace();
  Object.assign(process.env, {
    TICKSET_REDIS_URL: redisUrl(),
    TICKSET_NAMESPACE: namespace,
    TICKSET_EVENT_BUS_NAME: 'tickset-test-bus',
    TICKSET_HANDLERS: 'work',
    TICKSET_LEASE_MS: '30000',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOOPBACK',
    AWS_SECRET_ACCESS_KEY: 'loopback-secret',
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  // The adapter keeps its connections per container (module): a fresh module per test reads the env again.
  vi.resetModules();
});
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

function context(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logStreamName: 'test-stream',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
}

function deliveredIn(ns: string): TaskEventDetail[] {
  return bus.deliveredDetails<TaskEventDetail>().filter((d) => d.namespace === ns);
}

describe('tick Lambda', () => {
  it('minute mode: one pass publishes what is due and dead-letters unknown handlers', async () => {
    process.env.TICKSET_PRECISION = 'minute';
    const scheduler = new Scheduler({ redis, namespace });
    const due = await scheduler.scheduleMany(
      Array.from({ length: 25 }, (_, i) => ({ handler: 'work', payload: i, at: 0 })),
    );
    const ghost = await scheduler.schedule({ handler: 'ghost', at: 0 });
    const { handler } = await import('../../src/tick/lambda.js');

    const result = await handler({}, context(60_000));
    expect(result).toMatchObject({ mode: 'minute', led: true, passes: 1 });
    expect(result.totals).toMatchObject({ claimed: 26, published: 25, unknownHandler: 1, publishFailed: 0 });
    const delivered = deliveredIn(namespace);
    expect(new Set(delivered.map((d) => d.id))).toEqual(new Set(due.map((d) => d.id)));
    expect(delivered).toHaveLength(25);
    const entries = bus.delivered.filter((d) => d.entry.Detail?.includes(namespace)).map((d) => d.entry);
    for (const entry of entries) {
      expect(entry).toMatchObject({
        Source: 'tickset',
        DetailType: 'tickset.task',
        EventBusName: 'tickset-test-bus',
      });
    }
    expect(await scheduler.get(ghost.id)).toMatchObject({ state: 'dead', lastReason: 'unknown-handler' });
  });

  it('second mode: loops while the invocation has time, publishes jobs that fall due meanwhile, then releases the lease', async () => {
    process.env.TICKSET_PRECISION = 'second';
    const scheduler = new Scheduler({ redis, namespace });
    const now = await scheduler.scheduleMany(
      Array.from({ length: 5 }, (_, i) => ({ handler: 'work', payload: i, at: 0 })),
    );
    const soon = await scheduler.scheduleMany(
      Array.from({ length: 5 }, (_, i) => ({ handler: 'work', payload: i, delayMs: 300 })),
    );
    const { handler } = await import('../../src/tick/lambda.js');

    // The loop keeps 5 s of margin to the Lambda timeout: with 7 s left, it runs about 2 s.
    const result = await handler({}, context(7_000));
    expect(result).toMatchObject({ mode: 'second', led: true });
    expect(result.passes).toBeGreaterThan(0);
    expect(result.totals.published).toBe(10);
    expect(new Set(deliveredIn(namespace).map((d) => d.id))).toEqual(
      new Set([...now, ...soon].map((r) => r.id)),
    );
    expect(await redis.get(new Engine(redis, { namespace }).global.leader)).toBeNull();
    const heartbeat = await redis.hgetall(new Engine(redis, { namespace }).global.heartbeat);
    expect(heartbeat).toMatchObject({ mode: 'second', owner: expect.stringContaining('test-stream/') });
  });
});
