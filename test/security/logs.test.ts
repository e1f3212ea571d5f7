/**
 * Logs never contain payloads by default. A handler built with the defaults (Powertools Logger at DEBUG,
 * Powertools Metrics as EMF) runs a success, a duplicate, a failure, a time-out and malformed events whose
 * payload holds a secret; everything it writes to stdout and stderr is captured and searched. With
 * TICKSET_LOG_PAYLOADS=true the same capture does see the payload (so the capture itself works).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { taskHandler } from '../../src/handler/task-handler.js';
import { newClient, randomNamespace } from '../support/context.js';
import { promoteClaim, spec } from '../support/drive.js';

const SECRET = 'card-4111-1111-1111-1111';

let captured: string[] = [];
const original = { stdout: process.stdout.write, stderr: process.stderr.write };
const savedEnv = { ...process.env };

beforeEach(() => {
  captured = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const write = original[stream];
    process[stream].write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      // Captured only, unless TICKSET_TEST_LOGS=1 (vitest.config.ts): the log lines would mix with the results.
      if (process.env.TICKSET_TEST_LOGS !== '1') return true;
      return (write as (...args: unknown[]) => boolean).call(process[stream], chunk, ...rest);
    }) as typeof process.stdout.write;
  }
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  delete process.env.TICKSET_LOG_PAYLOADS;
});

afterEach(() => {
  process.stdout.write = original.stdout;
  process.stderr.write = original.stderr;
  process.env = { ...savedEnv };
});

async function claimed(count: number): Promise<{ scheduler: Scheduler; tasks: TaskEventDetail[] }> {
  const now = Date.now();
  const scheduler = new Scheduler({ redis: newClient(), namespace: randomNamespace('log'), now: () => now });
  await scheduler.scheduleMany(
    Array.from({ length: count }, (_, i) => ({
      handler: 'work',
      at: now,
      payload: { card: SECRET, i },
      maxAttempts: 1,
    })),
  );
  const { tasks } = await promoteClaim(scheduler.engine, [spec('work', 100)], now);
  expect(tasks).toHaveLength(count);
  return { scheduler, tasks };
}

describe('handler logs', () => {
  it('contain no payload by default, across success, duplicate, failure, time-out and malformed events', async () => {
    const { scheduler, tasks } = await claimed(3);
    const [ok, failing, slow] = tasks as [TaskEventDetail, TaskEventDetail, TaskEventDetail];
    const handle = taskHandler(
      async (task) => {
        if (task.id === failing.id) throw new Error('downstream said no');
        if (task.id === slow.id) await new Promise((r) => setTimeout(r, 200));
        return { sent: true };
      },
      { engine: scheduler.engine, handler: 'work', timeoutMs: 50 },
    );
    expect((await handle({ detail: ok })).status).toBe('succeeded');
    expect((await handle({ detail: ok })).status).toMatch(/duplicate|stale/);
    expect((await handle({ detail: failing })).status).toBe('dead');
    expect((await handle({ detail: slow })).status).toBe('dead');
    for (const bad of [
      { detail: { ...ok, attempt: 0 } },
      { detail: { ...ok, claimToken: 42 } },
      { detail: { ...ok, namespace: 'someone-else' } },
      { detail: { ...ok, scheduledFor: SECRET } },
    ]) {
      await handle(bad).catch(() => undefined);
    }
    await scheduler.close();

    const output = captured.join('');
    // The capture saw the wrapper's logs and metrics…
    expect(output).toContain('task started');
    expect(output).toContain(ok.id);
    expect(output).toContain('downstream said no');
    expect(output).toContain('malformed task event');
    expect(output).toContain('TasksSucceeded');
    // …and no payload. (The one echo of a bad field is its own value, never the payload: see below.)
    const leaks = output.split('\n').filter((line) => line.includes(SECRET));
    expect(leaks.filter((line) => !line.includes('scheduledFor'))).toEqual([]);
  });

  it('with TICKSET_LOG_PAYLOADS=true the payload is logged (the capture works)', async () => {
    process.env.TICKSET_LOG_PAYLOADS = 'true';
    const { scheduler, tasks } = await claimed(1);
    const handle = taskHandler(() => 'ok', { engine: scheduler.engine, handler: 'work' });
    expect((await handle({ detail: tasks[0] })).status).toBe('succeeded');
    await scheduler.close();
    expect(captured.join('')).toContain(SECRET);
  });
});
