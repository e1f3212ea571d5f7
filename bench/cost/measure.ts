/**
 * Measures the cost model's per-task inputs of batched delivery from the implementation, and writes them
 * to bench/cost/measured.json (read by bench/cost/inputs.ts). `npm run cost:measure`. Against a private
 * `redis-server`; no AWS: the EventBridge client is aws-sdk-client-mock's (the tick's CPU then holds the
 * claim, decode, packing and the SDK's request building, not HTTP).
 *
 * - Entry bytes: a batch entry of the bench payload (bench/redis.ts `payload100`), sized as EventBridge
 *   counts it (src/publish/entry-size.ts): per task and besides its tasks.
 * - Log bytes at the default level (INFO): everything the handler wrapper writes to stdout/stderr for one
 *   batch event (the Powertools Logger and the EMF metrics line), for batches of 1, 10 and 100 successful
 *   tasks: bytes per entry and per task by a straight line through them. Lambda's own START / END /
 *   REPORT lines are not the wrapper's and are not in it (see `LAMBDA_PLATFORM_LOG_BYTES` in inputs.ts).
 * - Redis per task: commands and script calls (INFO commandstats) of a local batched drain (claim, begin,
 *   complete), and of the unbatched one.
 * - Tick CPU per task: process CPU of `TickLoop.pass()` claiming and publishing a backlog, batched and not.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Engine } from '../../src/core/engine.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { taskHandler } from '../../src/handler/task-handler.js';
import { startLocal } from '../../src/local/start-local.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';
import { PowertoolsMetricsSink } from '../../src/observability/metrics.js';
import { putEventsEntrySize } from '../../src/publish/entry-size.js';
import { EventBridgePublisher } from '../../src/publish/eventbridge.js';
import { packTasks, resolveBatchPolicy } from '../../src/publish/pack.js';
import { connect } from '../../src/redis/connection.js';
import { TickLoop } from '../../src/tick/loop.js';
import { type BenchRedis, payload100, startBenchRedis } from '../redis.js';
import { HANDLER, preloadDue } from '../tickset/common.js';
import type { MeasuredInputs, RedisPerTask } from './inputs.js';

const SOURCE = 'tickset';
const DETAIL_TYPE = 'tickset.task';

function sampleTasks(n: number): TaskEventDetail[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    v: 1,
    id: `0Abcdef${String(i).padStart(7, '0')}`,
    handler: HANDLER,
    payload: payload100(i),
    attempt: 1,
    idempotencyKey: `0Abcdef${String(i).padStart(7, '0')}:${now}:0`,
    scheduledFor: new Date(now).toISOString(),
    claimToken: `${now + 60_000}.k3j4h5.0Abcdef${String(i).padStart(7, '0')}`,
    namespace: 'tickset',
    shard: 0,
    leaseUntil: now + 60_000,
  }));
}

function entryBytes(): { taskBytes: number; entryEnvelopeBytes: number; unbatchedEntryBytes: number } {
  const envelope = putEventsEntrySize({ Source: SOURCE, DetailType: DETAIL_TYPE });
  const limits = resolveBatchPolicy({ [HANDLER]: {} });
  const size = (n: number) => {
    const { events } = packTasks(sampleTasks(n), limits, envelope);
    return putEventsEntrySize({ Source: SOURCE, DetailType: DETAIL_TYPE, Detail: events[0]!.detail });
  };
  const one = size(1);
  const hundred = size(100);
  const taskBytes = (hundred - one) / 99;
  const single = packTasks(sampleTasks(1), new Map(), envelope).events[0]!.detail;
  return {
    taskBytes,
    entryEnvelopeBytes: one - taskBytes,
    unbatchedEntryBytes: putEventsEntrySize({ Source: SOURCE, DetailType: DETAIL_TYPE, Detail: single }),
  };
}

/** Bytes written to stdout and stderr while `run` runs. */
async function captured(run: () => Promise<void>): Promise<number> {
  let bytes = 0;
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const count = (chunk: unknown) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
    return true;
  };
  process.stdout.write = count as typeof process.stdout.write;
  process.stderr.write = count as typeof process.stderr.write;
  try {
    await run();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return bytes;
}

async function logBytes(redis: BenchRedis): Promise<Record<string, number>> {
  const samples: Record<string, number> = {};
  const client = connect(redis.url);
  try {
    {
      const namespace = 'cost-logs-single';
      await preloadDue(redis.url, namespace, 1);
      const engine = new Engine(client, { namespace });
      const { tasks } = await engine.claim(0, [{ handler: HANDLER, limit: 1, leaseMs: 60_000 }], Date.now());
      const event = { version: '0', id: 'e', 'detail-type': DETAIL_TYPE, source: SOURCE, detail: tasks[0] };
      samples.single = await captured(async () => {
        const handle = taskHandler(async () => undefined, {
          engine,
          logger: createLogger('tickset-handler'),
          metrics: new PowertoolsMetricsSink(namespace, { serviceName: 'tickset-handler' }),
        });
        const end = Date.now() + 60_000;
        const outcome = await handle(event, {
          getRemainingTimeInMillis: () => end - Date.now(),
        } as unknown as Context);
        if (outcome.status !== 'succeeded') throw new Error('log bytes: the single task did not succeed');
      });
    }
    for (const n of [1, 10, 100]) {
      const namespace = `cost-logs-${n}`;
      await preloadDue(redis.url, namespace, n);
      const engine = new Engine(client, { namespace });
      const { tasks } = await engine.claim(0, [{ handler: HANDLER, limit: n, leaseMs: 60_000 }], Date.now());
      const { events } = packTasks(tasks, resolveBatchPolicy({ [HANDLER]: {} }), 0);
      const event = {
        version: '0',
        id: 'e',
        'detail-type': DETAIL_TYPE,
        source: SOURCE,
        detail: JSON.parse(events[0]!.detail),
      };
      // As in a Lambda: the default logger (INFO) and Powertools metrics, made inside the capture.
      samples[String(n)] = await captured(async () => {
        const handle = taskHandler(async () => undefined, {
          engine,
          logger: createLogger('tickset-handler'),
          metrics: new PowertoolsMetricsSink(namespace, { serviceName: 'tickset-handler' }),
        });
        const end = Date.now() + 60_000;
        const outcome = await handle(event, {
          getRemainingTimeInMillis: () => end - Date.now(),
        } as unknown as Context);
        if (outcome.status !== 'batch' || outcome.outcomes.some((o) => o.status !== 'succeeded'))
          throw new Error(`log bytes: the batch of ${n} did not succeed`);
      });
    }
  } finally {
    await client.quit();
  }
  return samples;
}

async function redisPerTask(redis: BenchRedis, batched: boolean): Promise<RedisPerTask> {
  const n = 20_000;
  const namespace = `cost-redis-${batched ? 'b' : 'u'}`;
  await redis.flush();
  await preloadDue(redis.url, namespace, n);
  await redis.resetStats();
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const runtime = startLocal({
    redis: redis.url,
    namespace,
    concurrency: 100,
    handlers: { [HANDLER]: async () => undefined },
    ...(batched ? { batch: { [HANDLER]: { maxTasks: 100 } } } : {}),
    onOutcome: () => {
      if (++done === n) finish();
    },
  });
  await all;
  await runtime.stop();
  const stats = await redis.commandStats();
  let commands = 0;
  let scripts = 0;
  let usec = 0;
  for (const [name, s] of Object.entries(stats)) {
    if (['info', 'config', 'flushall', 'ping', 'client', 'hello', 'select'].includes(name)) continue;
    commands += s.calls;
    if (name === 'evalsha' || name === 'eval') {
      scripts += s.calls;
      usec += s.usec;
    } else if (!isScriptInner(name)) usec += s.usec;
  }
  return { scriptCallsPerTask: scripts / n, commandsPerTask: commands / n, usecPerTask: usec / n };
}

/**
 * Commands the flow's scripts run inside Lua: their time is already in EVALSHA's (commandstats counts it
 * under both). On the drain path the client itself sends only scripts, the claim's HMGET of handler codes
 * and the tick's wake PUBLISH / SUBSCRIBE.
 */
function isScriptInner(name: string): boolean {
  return !['evalsha', 'eval', 'hmget', 'subscribe', 'publish'].includes(name);
}

async function tickCpu(redis: BenchRedis, batched: boolean): Promise<number> {
  const n = 50_000;
  const namespace = `cost-tick-${batched ? 'b' : 'u'}`;
  await redis.flush();
  await preloadDue(redis.url, namespace, n);
  const mock = mockClient(EventBridgeClient);
  mock.on(PutEventsCommand).callsFake((input: { Entries?: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `e${i}` })),
  }));
  const client = connect(redis.url);
  const ebClient = new EventBridgeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDCOST', secretAccessKey: 'cost' },
  });
  try {
    const publisher = new EventBridgePublisher({
      client: ebClient,
      eventBusName: 'tickset',
      ...(batched ? { batch: { [HANDLER]: {} } } : {}),
    });
    const loop = new TickLoop({
      engine: new Engine(client, { namespace }),
      publisher,
      leaseMs: 600_000,
      logger: silentLogger,
    });
    const before = process.cpuUsage();
    let published = 0;
    while (published < n) published += (await loop.pass()).published;
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  } finally {
    mock.restore();
    ebClient.destroy();
    await client.quit();
  }
}

async function main(): Promise<void> {
  const redis = await startBenchRedis();
  try {
    const { taskBytes, entryEnvelopeBytes, unbatchedEntryBytes } = entryBytes();
    const logSamples = await logBytes(redis);
    const perTask = (logSamples['100']! - logSamples['10']!) / 90;
    const perEntry = logSamples['10']! - 10 * perTask;
    // Warm the tick's code path once (a fresh Lambda container's first pass is not the steady state).
    await tickCpu(redis, true);
    const result: MeasuredInputs = {
      measuredAt: new Date().toISOString(),
      node: process.version,
      taskBytes: Math.round(taskBytes * 10) / 10,
      entryEnvelopeBytes: Math.round(entryEnvelopeBytes),
      unbatchedEntryBytes,
      logBytesUnbatched: logSamples.single!,
      logBytesPerEntry: Math.round(perEntry),
      logBytesPerTask: Math.round(perTask * 10) / 10,
      logSamples,
      redis: { batched: await redisPerTask(redis, true), unbatched: await redisPerTask(redis, false) },
      tickCpuUsPerTask: { batched: await tickCpu(redis, true), unbatched: await tickCpu(redis, false) },
    };
    writeFileSync(join(import.meta.dirname, 'measured.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await redis.stop();
  }
}

await main();
