/**
 * EventBridgePublisher through the real EventBridgeClient (SDK retries off) against a loopback PutEvents
 * server: delivery, partial failures, throttling, 500s, dropped connections, persistent and non-retryable
 * failures, and the bound on calls in flight (measured on the server).
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskEventDetail } from '../../src/core/types.js';
import { EventBridgePublisher, type EventBridgePublisherOptions } from '../../src/publish/eventbridge.js';
import {
  type EventBridgeLoopback,
  type LoopbackFault,
  startEventBridgeLoopback,
} from '../support/eventbridge-loopback.js';
import { makeTasks, noSleep } from './fixtures.js';

let loop: EventBridgeLoopback;
let client: EventBridgeClient;

beforeEach(async () => {
  loop = await startEventBridgeLoopback();
  client = loop.createClient();
});

afterEach(async () => {
  client.destroy();
  await loop.close();
});

function publisher(options: Partial<EventBridgePublisherOptions> = {}): EventBridgePublisher {
  return new EventBridgePublisher({ client, eventBusName: 'tickset-bus', sleep: noSleep, ...options });
}

function deliveredIds(): string[] {
  return loop
    .deliveredDetails<TaskEventDetail>()
    .map((d) => d.id)
    .sort();
}

function idsOf(tasks: readonly TaskEventDetail[]): string[] {
  return tasks.map((t) => t.id).sort();
}

function idOf(detail: string | undefined): string {
  return (JSON.parse(detail ?? '{}') as TaskEventDetail).id;
}

function idsInRequest(index: number): string[] {
  const request = loop.requests.find((r) => r.index === index);
  return (request?.entries ?? []).map((e) => idOf(e.Detail));
}

describe('EventBridgePublisher over the loopback', () => {
  it('delivers every entry once with the right Source, DetailType, EventBusName and Detail', async () => {
    const tasks = makeTasks(25);
    const result = await publisher().publish(tasks);

    expect(result.failed).toEqual([]);
    expect(result.delivered).toBe(25);
    expect(result.calls).toBe(3);
    expect(result.retried).toBe(0);
    expect(loop.requests.map((r) => r.entries.length)).toEqual([10, 10, 5]);
    expect(loop.received).toHaveLength(25);
    for (const entry of loop.received) {
      expect(entry.Source).toBe('tickset');
      expect(entry.DetailType).toBe('tickset.task');
      expect(entry.EventBusName).toBe('tickset-bus');
      expect(entry.Time).toBeUndefined();
      expect(entry.Resources).toBeUndefined();
    }
    const byId = new Map(loop.deliveredDetails<TaskEventDetail>().map((d) => [d.id, d]));
    for (const task of tasks) expect(byId.get(task.id)).toEqual(task);
    expect(deliveredIds()).toEqual(idsOf(tasks));
  });

  it('uses the configured source and detail-type', async () => {
    await publisher({ source: 'acme.jobs', detailType: 'acme.job.due' }).publish(makeTasks(2));
    expect(loop.received.map((e) => [e.Source, e.DetailType])).toEqual([
      ['acme.jobs', 'acme.job.due'],
      ['acme.jobs', 'acme.job.due'],
    ]);
  });

  it('makes no call for no tasks', async () => {
    const result = await publisher().publish([]);
    expect(result).toEqual({ failed: [], delivered: 0, calls: 0, retried: 0 });
    expect(loop.requests).toHaveLength(0);
  });

  it.each(['ThrottlingException', 'InternalException', 'InternalFailure', 'ServiceUnavailable'])(
    'partial failure (%s): re-sends only the failed entries; each is delivered exactly once',
    async (code) => {
      loop.setFaultPlan((index) => (index === 0 ? { failIndexes: [1, 4, 7], code } : 'ok'));
      const tasks = makeTasks(10);
      const result = await publisher({ concurrency: 1 }).publish(tasks);

      expect(result.failed).toEqual([]);
      expect(result.calls).toBe(2);
      expect(result.retried).toBe(3);
      expect(idsInRequest(1)).toEqual([tasks[1]!.id, tasks[4]!.id, tasks[7]!.id]);
      expect(loop.received).toHaveLength(13);
      expect(deliveredIds()).toEqual(idsOf(tasks));
    },
  );

  it('partial failures across several batches and attempts still deliver everything exactly once', async () => {
    // Every request fails its first entry (with a retryable code) until the 6th request.
    loop.setFaultPlan((index) => (index < 6 ? { failIndexes: [0], code: 'InternalFailure' } : 'ok'));
    const tasks = makeTasks(30);
    const result = await publisher({ concurrency: 2, maxAttempts: 10 }).publish(tasks);

    expect(result.failed).toEqual([]);
    expect(deliveredIds()).toEqual(idsOf(tasks));
    expect(loop.received.length).toBe(30 + result.retried);
  });

  it.each([
    ['throttle', 'ThrottlingException', 400],
    ['500', 'InternalException', 500],
  ] as const)('whole-call %s is retried (%s, HTTP %d)', async (fault, _code, status) => {
    loop.setFaultPlan((index) => (index < 2 ? fault : 'ok'));
    const tasks = makeTasks(10);
    const result = await publisher().publish(tasks);

    expect(result.failed).toEqual([]);
    expect(loop.requests.map((r) => r.status)).toEqual([status, status, 200]);
    for (const request of loop.requests) expect(request.entries).toHaveLength(10);
    expect(result.retried).toBe(20);
    expect(deliveredIds()).toEqual(idsOf(tasks));
  });

  it('a dropped connection (network error) is retried', async () => {
    loop.setFaultPlan((index) => (index === 0 ? 'reset' : 'ok'));
    const tasks = makeTasks(4);
    const result = await publisher().publish(tasks);

    expect(result.failed).toEqual([]);
    expect(loop.requests.map((r) => r.status)).toEqual([0, 200]);
    expect(deliveredIds()).toEqual(idsOf(tasks));
  });

  it('a lost acknowledgement is retried: delivered at least once, nothing reported failed', async () => {
    loop.setFaultPlan((index) => (index === 0 ? 'ackLost' : 'ok'));
    const tasks = makeTasks(3);
    const result = await publisher().publish(tasks);

    expect(result.failed).toEqual([]);
    expect(new Set(deliveredIds())).toEqual(new Set(idsOf(tasks)));
    expect(loop.delivered).toHaveLength(6);
  });

  it('entries that keep failing come back in `failed` with their code after maxAttempts', async () => {
    const tasks = makeTasks(10);
    const doomed = new Set([tasks[0]!.id, tasks[2]!.id]);
    // Whatever position they are sent at, tasks 0 and 2 always fail.
    loop.setFaultPlan((_index, entries) => ({
      failIndexes: entries.flatMap((e, i) => (doomed.has(idOf(e.Detail)) ? [i] : [])),
      code: 'ThrottlingException',
      message: 'Rate exceeded',
    }));
    const result = await publisher({ maxAttempts: 3, concurrency: 1 }).publish(tasks);

    expect(result.failed).toEqual([
      {
        task: tasks[0],
        code: 'ThrottlingException',
        message: 'Rate exceeded',
        error: 'ThrottlingException: Rate exceeded',
        attempts: 3,
      },
      {
        task: tasks[2],
        code: 'ThrottlingException',
        message: 'Rate exceeded',
        error: 'ThrottlingException: Rate exceeded',
        attempts: 3,
      },
    ]);
    expect(loop.requests).toHaveLength(3);
    expect(loop.received).toHaveLength(10 + 2 + 2);
    expect(deliveredIds()).toEqual(idsOf(tasks.filter((_, i) => i !== 0 && i !== 2)));
    expect(result.delivered).toBe(8);
  });

  it('persistent whole-call throttling fails every entry after maxAttempts calls', async () => {
    loop.setFaultPlan(() => 'throttle');
    const tasks = makeTasks(12);
    const result = await publisher({ maxAttempts: 4 }).publish(tasks);

    expect(result.failed.map((f) => f.task)).toEqual(tasks);
    for (const f of result.failed) {
      expect(f.code).toBe('ThrottlingException');
      expect(f.error).toBe('ThrottlingException: Rate exceeded');
      expect(f.attempts).toBe(4);
    }
    expect(loop.requests).toHaveLength(8);
    expect(result.delivered).toBe(0);
  });

  it.each([
    'ValidationException',
    'AccessDeniedException',
    'MalformedDetail',
    'NotAuthorizedForSourceException',
  ])('a non-retryable entry code (%s) fails at once and is not re-sent', async (code) => {
    loop.setFaultPlan(() => ({ failIndexes: [3], code }));
    const tasks = makeTasks(10);
    const result = await publisher().publish(tasks);

    expect(loop.requests).toHaveLength(1);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ task: tasks[3], code, attempts: 1 });
    expect(result.retried).toBe(0);
    expect(deliveredIds()).toEqual(idsOf(tasks.filter((_, i) => i !== 3)));
  });

  it('a non-retryable whole-call error fails the batch at once', async () => {
    loop.setFaultPlan(() => ({ error: 'AccessDeniedException', status: 400, message: 'not allowed' }));
    const tasks = makeTasks(5);
    const result = await publisher().publish(tasks);

    expect(loop.requests).toHaveLength(1);
    expect(result.failed.map((f) => [f.task.id, f.code, f.attempts])).toEqual(
      tasks.map((t) => [t.id, 'AccessDeniedException', 1]),
    );
  });

  describe('concurrency', () => {
    /**
     * Holds every request on the server until every PutEvents call the client has started is held there, then
     * lets them all go. A client-side middleware counts started and finished calls, so the barrier needs no
     * timing: a publisher that started more than `k` calls would have all of them held at once, and the
     * server would see more than `k` in flight.
     */
    function holdUntilEveryStartedCallArrives(fault: (index: number) => LoopbackFault = () => 'ok'): void {
      let started = 0;
      let finished = 0;
      const held: (() => void)[] = [];
      const check = (): void => {
        if (held.length > 0 && held.length === started - finished) {
          for (const release of held.splice(0)) release();
        }
      };
      client.middlewareStack.add(
        (next) => async (args) => {
          started += 1;
          try {
            return await next(args);
          } finally {
            finished += 1;
            check();
          }
        },
        { step: 'initialize', name: 'testCountCalls' },
      );
      loop.setFaultPlan(async (index): Promise<LoopbackFault> => {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          check();
        });
        return fault(index);
      });
    }

    it.each([1, 3, 8])('never more than %d PutEvents calls in flight', { timeout: 20_000 }, async (k) => {
      const batches = 4 * k + 1;
      holdUntilEveryStartedCallArrives();
      const tasks = makeTasks(batches * 10);
      const result = await publisher({ concurrency: k }).publish(tasks);

      expect(result.failed).toEqual([]);
      expect(loop.requests).toHaveLength(batches);
      expect(loop.maxInFlight).toBe(k);
      expect(deliveredIds()).toEqual(idsOf(tasks));
    });

    it('the bound holds across concurrent publish calls on one publisher', { timeout: 20_000 }, async () => {
      const k = 2;
      holdUntilEveryStartedCallArrives();
      const shared = publisher({ concurrency: k });
      const a = makeTasks(40, 0);
      const b = makeTasks(40, 1000);
      const [ra, rb] = await Promise.all([shared.publish(a), shared.publish(b)]);

      expect(ra.failed).toEqual([]);
      expect(rb.failed).toEqual([]);
      expect(loop.maxInFlight).toBe(k);
      expect(deliveredIds()).toEqual(idsOf([...a, ...b]));
    });

    it('retries of failed entries take a slot like any call', { timeout: 20_000 }, async () => {
      const k = 2;
      holdUntilEveryStartedCallArrives((index) =>
        index < 4 ? { failIndexes: [0, 1], code: 'InternalFailure' } : 'ok',
      );
      const tasks = makeTasks(60);
      const result = await publisher({ concurrency: k }).publish(tasks);

      expect(result.failed).toEqual([]);
      expect(result.retried).toBe(8);
      expect(loop.maxInFlight).toBe(k);
      expect(deliveredIds()).toEqual(idsOf(tasks));
    });
  });
});
