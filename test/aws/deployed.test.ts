import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import {
  AWS_METRICS,
  DEFAULTS,
  ENV,
  METRIC_CATALOG,
  METRIC_DIMENSIONS,
  METRICS,
  type MetricName,
  SERVICES,
} from '../../src/config/env.js';
import { connect } from '../../src/redis/connection.js';
import { startEventBridgeLoopback } from '../support/eventbridge-loopback.js';
import { freePort, type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';
import {
  ACCOUNT,
  CREDENTIALS,
  emfRecords,
  LambdaProcess,
  type Moto,
  REGION,
  type RecordingProxy,
  sqs,
  startMoto,
  startRecordingProxy,
} from './support/aws-emulation.js';
import { type Assembly, readTemplate, synthesizedVariants, VARIANTS } from './support/variants.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

/**
 * Size of the run: 1,000 tasks (about 75 s here). `TICKSET_E2E_TASKS=<n>` runs another size.
 */
const TOTAL = Number(process.env.TICKSET_E2E_TASKS ?? 1000);
const DEVICES = Math.min(50, Math.floor(TOTAL / 4)); // sync-device tasks (rate-limited to 5/s by the sample stack)
const REMINDERS = TOTAL - DEVICES - 4; // send-reminder tasks; 4 more: unknown handler, failing, expired, series
const FLAKY = 'device-flaky'; // its partner API answers 500 once
const BUS = 'tickset-e2e-bus';
const SECRET_NAME = 'tickset-e2e-cache-auth';
const TOKEN = 'e2e-auth-token-0123456789abcdef';

/** Environment variables a bundle may read that the construct does not set (they have defaults). */
const OPTIONAL_ENV = new Set<string>([
  ENV.redisUsername, // only with an RBAC user (MemoryDB, Serverless)
  ENV.parkAfterMs,
  ENV.leaseMs, // producers and handlers: only the tick gets it
  ENV.idempotencyTtlSeconds, // only with the idempotencyTtl prop
  ENV.logPayloads,
  ENV.logLevel,
  ENV.redisUrlFallback,
  ENV.serviceName, // Powertools reads it; tickset names its services in code (SERVICES)
  ENV.redisIamAuth, // opt-in IAM auth to the cache: unset means password auth (the default)
  ENV.batchDelivery, // tick: only when a handler has the batch option
  ENV.batchConcurrency, // handlers: the wrapper's default (8) unless set
]);
/**
 * Metrics this run does not provoke (a handler finishing after its lease ended), checked against the catalog
 * only: the in-process handler tests cover the emission (test/handler/task-handler.test.ts).
 */
const NOT_EXERCISED = new Set<string>([
  METRICS.lateAckRejected,
  // A batch running out of its invocation's time: test/handler/batch-delivery.test.ts.
  METRICS.batchReleased,
  // A series reaching its end (the run's series is cancelled instead): test/core/recurring.test.ts and the
  // tick's series tests.
  METRICS.seriesEnded,
]);
/** Set by the construct, read by Node.js itself rather than by tickset's code. */
const READ_BY_NODE = new Set<string>([ENV.nodeOptions]);

interface Fn {
  readonly logicalId: string;
  readonly role: string;
  readonly bundle: string;
  readonly env: Record<string, string>;
  readonly templateEnv: Record<string, unknown>;
}

let assembly: Assembly;
let template: Json;
let certs: TestCertificates;
let redis: RedisServerHandle;
let moto: Moto;
let partner: Server;
let secretArn: string;
const proxies = new Map<string, RecordingProxy>();
const processes = new Map<string, LambdaProcess>();
const functions = new Map<string, Fn>();
const partnerCalls: { deviceId: string; key: string; status: number }[] = [];
const figures: Record<string, number> = {};
let scheduled: {
  reminders: string[];
  devices: string[];
  flaky: string;
  unknown: string;
  bad: string;
  expired: string;
  series: string;
};
let deliveries = 0;
let duplicateDeliveries = 0;
const handled: { fn: string; detail: Json; result: Json }[] = [];
let loopbackEntries = 0;
let loopbackRequests: string[] = [];
let loopbackTick: LambdaProcess;
let motoTick: LambdaProcess;
let forged: { ok: boolean; result?: Json };

function resources(type: string): [string, Json][] {
  return Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
}
function idOf(type: string, hint: string): string {
  const ids = resources(type)
    .map(([id]) => id)
    .filter((id) => id.includes(hint));
  if (ids.length !== 1) throw new Error(`one ${type} matching ${hint} expected, found ${ids.join(', ')}`);
  return ids[0]!;
}

/** THE substitution map: every Ref/GetAtt the bundles' environment uses, and nothing else. */
function substitutions(port: number): Record<string, string> {
  return {
    [`Ref:${idOf('AWS::Events::EventBus', 'Bus')}`]: BUS,
    [`Ref:${idOf('AWS::SecretsManager::Secret', 'AuthToken')}`]: secretArn,
    [`GetAtt:${idOf('AWS::ElastiCache::ReplicationGroup', 'ReplicationGroup')}.PrimaryEndPoint.Address`]:
      'localhost',
    [`GetAtt:${idOf('AWS::ElastiCache::ReplicationGroup', 'ReplicationGroup')}.PrimaryEndPoint.Port`]:
      String(port),
  };
}

function resolveWith(map: Record<string, string>, value: Json): string {
  if (typeof value === 'string') return value;
  if (value.Ref !== undefined) {
    const v = map[`Ref:${value.Ref}`];
    if (v === undefined) throw new Error(`no substitution for Ref ${value.Ref}`);
    return v;
  }
  if (value['Fn::GetAtt']) {
    const [id, attribute] = value['Fn::GetAtt'] as [string, string];
    const v = map[`GetAtt:${id}.${attribute}`];
    if (v === undefined) throw new Error(`no substitution for GetAtt ${id}.${attribute}`);
    return v;
  }
  if (value['Fn::Join']) {
    const [sep, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((p) => resolveWith(map, p)).join(sep);
  }
  throw new Error(`no substitution for ${JSON.stringify(value)}`);
}

async function startTlsRedis(): Promise<RedisServerHandle> {
  certs = makeTestCertificates();
  const port = await freePort();
  return await startRedisServer({
    port,
    args: ['--port', '0', ...certs.tlsArgs(port), '--requirepass', TOKEN],
    cliArgs: ['--tls', '--cacert', certs.caPath, '-a', TOKEN, '--no-auth-warning'],
  });
}

function lambdaEnv(fn: Fn, endpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    ...fn.env,
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_ENDPOINT_URL: endpoint,
    NODE_EXTRA_CA_CERTS: certs.caPath,
    TZ: 'UTC',
    ...extra,
  };
}

async function newProcess(name: string, extra: Record<string, string> = {}): Promise<LambdaProcess> {
  const fn = functions.get(name)!;
  let proxy = proxies.get(name);
  if (!proxy) {
    proxy = await startRecordingProxy(moto.url);
    proxies.set(name, proxy);
  }
  const p = new LambdaProcess(fn.bundle, fn.logicalId, lambdaEnv(fn, proxy.url, extra));
  processes.set(name, p);
  return p;
}

function scheduledEvent(): Json {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: REGION,
    resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/TicksetSample-TasksTickSchedule`],
    detail: {},
  };
}

beforeAll(async () => {
  const started = Date.now();
  [assembly, moto, redis] = await Promise.all([
    synthesizedVariants(),
    startMoto(),
    (async () => startTlsRedis())(),
  ]);
  template = readTemplate(assembly, VARIANTS.default);

  // The partner API of sync-device: records each call; FLAKY fails once.
  partner = createServer((req, res) => {
    const deviceId = decodeURIComponent(/\/devices\/([^/]+)\/sync/.exec(req.url ?? '')?.[1] ?? '');
    const key = String(req.headers['idempotency-key'] ?? '');
    const status = deviceId === FLAKY && !partnerCalls.some((c) => c.deviceId === FLAKY) ? 500 : 200;
    partnerCalls.push({ deviceId, key, status });
    req.resume();
    res.writeHead(status).end();
  });
  await new Promise<void>((r) => partner.listen(0, '127.0.0.1', r));
  const partnerUrl = `http://127.0.0.1:${(partner.address() as AddressInfo).port}`;

  // moto: the secret, the bus, every rule of the template on it with its exact pattern, a queue per target.
  const awsConfig = { region: REGION, endpoint: moto.url, credentials: CREDENTIALS };
  const secrets = new SecretsManagerClient(awsConfig);
  secretArn = (await secrets.send(new CreateSecretCommand({ Name: SECRET_NAME, SecretString: TOKEN }))).ARN!;
  const events = new EventBridgeClient(awsConfig);
  await events.send(new CreateEventBusCommand({ Name: BUS }));
  const busId = idOf('AWS::Events::EventBus', 'Bus');
  const queues = new Map<string, string>(); // function logical id -> queue URL
  for (const [id, rule] of resources('AWS::Events::Rule')) {
    if (rule.Properties.EventBusName?.Ref !== busId) continue; // the tick's schedule rule: invoked directly
    const fnId = rule.Properties.Targets[0].Arn['Fn::GetAtt'][0] as string;
    const { QueueUrl } = await sqs<{ QueueUrl: string }>(moto.url, 'CreateQueue', {
      QueueName: `stand-in-${fnId}`,
    });
    const { Attributes } = await sqs<{ Attributes: { QueueArn: string } }>(moto.url, 'GetQueueAttributes', {
      QueueUrl,
      AttributeNames: ['QueueArn'],
    });
    await events.send(
      new PutRuleCommand({
        Name: id,
        EventBusName: BUS,
        EventPattern: JSON.stringify(rule.Properties.EventPattern),
        State: 'ENABLED',
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: id,
        EventBusName: BUS,
        Targets: [{ Id: 'stand-in', Arn: Attributes.QueueArn }],
      }),
    );
    queues.set(fnId, QueueUrl);
  }
  expect(queues.size).toBe(2);

  // The functions of the template, their bundles and their environment through the substitution map.
  const map = substitutions(redis.port);
  for (const [id, fn] of resources('AWS::Lambda::Function')) {
    const name = ['TasksTick', 'SendReminder', 'SyncDevice', 'Producer'].find((n) => id.startsWith(n))!;
    const templateEnv = fn.Properties.Environment.Variables as Record<string, unknown>;
    functions.set(name, {
      logicalId: id,
      role: fn.Properties.Role['Fn::GetAtt'][0],
      bundle: join(
        assembly.outdir,
        `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`,
        'index.mjs',
      ),
      templateEnv,
      env: Object.fromEntries(Object.entries(templateEnv).map(([k, v]) => [k, resolveWith(map, v)])),
    });
  }

  // Jobs: written by the test's own client over TLS with the password (and one by the producer bundle).
  const namespace = functions.get('TasksTick')!.env[ENV.namespace]!;
  const client = connect(`rediss://:${TOKEN}@localhost:${redis.port}`, {
    redisOptions: { tls: { ca: certs.ca } },
  });
  const scheduler = new Scheduler({ redis: client, namespace });
  const now = Date.now();
  const at = new Date(now + 1_000);
  const reminders = await scheduler.scheduleMany(
    Array.from({ length: REMINDERS }, (_, userId) => ({ handler: 'send-reminder', payload: { userId }, at })),
  );
  const devices = await scheduler.scheduleMany(
    Array.from({ length: DEVICES }, (_, i) => ({
      handler: 'sync-device',
      payload: { deviceId: i === 0 ? FLAKY : `device-${i}` },
      at,
      backoff: { type: 'fixed' as const, delayMs: 200 },
    })),
  );
  const unknown = await scheduler.schedule({ handler: 'no-such-handler', payload: {}, at });
  const bad = await scheduler.schedule({
    handler: 'send-reminder',
    payload: { userId: 'x' },
    at,
    maxAttempts: 1,
  });
  // A job that expired before any tick saw it: scheduled by a client whose clock is a minute behind.
  const behind = new Scheduler({ redis: client, namespace, now: () => now - 60_000 });
  const expired = await behind.schedule({
    handler: 'send-reminder',
    payload: { userId: -1 },
    at: new Date(now - 59_000),
    expiresAt: new Date(now - 58_000),
  });
  const producer = await newProcess('Producer', { DEVICE_API_URL: partnerUrl });
  const seriesResult = await producer.invoke({ action: 'sync', deviceId: 'device-series', everyMs: 1_000 });
  expect(seriesResult.ok, JSON.stringify(seriesResult)).toBe(true);
  const series = (seriesResult.result as { id: string }).id;
  scheduled = {
    reminders: reminders.map((r) => r.id),
    devices: devices.map((r) => r.id),
    flaky: devices[0]!.id,
    unknown: unknown.id,
    bad: bad.id,
    expired: expired.id,
    series,
  };

  // Run: the tick (invoked again whenever an invocation ends), queues polled, handlers invoked per event.
  motoTick = await newProcess('TasksTick');
  const tick = motoTick;
  const handlers = {
    SendReminder: await newProcess('SendReminder'),
    SyncDevice: await newProcess('SyncDevice', { DEVICE_API_URL: partnerUrl }),
  };
  const reminderIds = new Set(scheduled.reminders);
  const deviceIds = new Set(scheduled.devices);
  const done = () =>
    reminderIds.size === 0 &&
    deviceIds.size === 0 &&
    partnerCalls.filter((c) => c.deviceId === 'device-series' && c.status === 200).length >= 3;
  const runStarted = Date.now();
  const deadline = runStarted + 240_000;
  const timedOut = async () => {
    const left = await Promise.all([...deviceIds, ...reminderIds].slice(0, 3).map((id) => scheduler.get(id)));
    return new Error(
      `left: ${JSON.stringify(left)}; ` +
        `not done within 240 s: ${reminderIds.size} reminders, ${deviceIds.size} devices left, ` +
        `${handled.length} deliveries; tick: ${tick.output.slice(-3).join('\n')} ${tick.stderr.slice(-3).join('\n')}`,
    );
  };
  // The tick, invoked again whenever an invocation ends.
  const ticking = (async () => {
    while (!done()) {
      if (Date.now() > deadline) throw await timedOut();
      const r = await tick.invoke(scheduledEvent(), 15_000);
      if (!r.ok) throw new Error(`tick failed: ${JSON.stringify(r)}`);
    }
  })();
  // One poller per stand-in queue: each received batch is handled, then deleted in one call (moto scans a
  // queue's every message on each receive, so a queue left full of received messages slows every poll);
  // every 4th event is delivered twice.
  let n = 0;
  const polling = Object.entries(handlers).map(async ([name, p]) => {
    const url = queues.get(functions.get(name)!.logicalId)!;
    while (!done()) {
      if (Date.now() > deadline) throw await timedOut();
      const { Messages = [] } = await sqs<{ Messages?: { Body: string; ReceiptHandle: string }[] }>(
        moto.url,
        'ReceiveMessage',
        {
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 3_600,
        },
      );
      for (const m of Messages) {
        const event = JSON.parse(m.Body) as Json;
        const copies = n++ % 4 === 0 ? 2 : 1;
        for (let c = 0; c < copies; c++) {
          const result = await p.invoke(event, 30_000);
          deliveries++;
          if (c > 0) duplicateDeliveries++;
          handled.push({ fn: name, detail: event.detail, result });
          if (result.ok && (result.result as { status?: string } | undefined)?.status === 'succeeded') {
            reminderIds.delete(event.detail.id);
            deviceIds.delete(event.detail.id);
          }
        }
      }
      if (Messages.length > 0) {
        await sqs(moto.url, 'DeleteMessageBatch', {
          QueueUrl: url,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        });
      } else await new Promise((r) => setTimeout(r, 50));
    }
  });
  await Promise.all([ticking, ...polling]);
  const cancel = await producer.invoke({ action: 'cancel', key: 'device-device-series' });
  expect(cancel).toMatchObject({ ok: true, result: { cancelled: true } });
  // Late duplicates: 20 events delivered again after their task completed.
  const late = handled
    .filter((h) => h.fn === 'SendReminder' && h.result.result?.status === 'succeeded')
    .slice(0, 20);
  for (const h of late) {
    const result = await handlers.SendReminder.invoke(
      {
        version: '0',
        id: crypto.randomUUID(),
        'detail-type': 'tickset.task',
        source: 'tickset',
        account: ACCOUNT,
        time: new Date().toISOString(),
        region: REGION,
        resources: [],
        detail: h.detail,
      },
      30_000,
    );
    deliveries++;
    duplicateDeliveries++;
    handled.push({ fn: 'SendReminder', detail: h.detail, result });
  }
  // A forged event: a real task's detail under an id that was never claimed. The start fence stops it.
  const forgedDetail = { ...late[0]!.detail, id: 'forged-task', idempotencyKey: 'forged-task:1:0' };
  forged = await handlers.SendReminder.invoke(
    {
      version: '0',
      id: crypto.randomUUID(),
      'detail-type': 'tickset.task',
      source: 'tickset',
      account: ACCOUNT,
      time: new Date().toISOString(),
      region: REGION,
      resources: [],
      detail: forgedDetail,
    },
    30_000,
  );
  figures.runMs = Date.now() - runStarted;
  figures.tasks = scheduled.reminders.length + scheduled.devices.length + 4;
  figures.putEventsEntries = proxies
    .get('TasksTick')!
    .calls.filter((c) => c.action === 'events:PutEvents')
    .reduce((sum, c) => sum + (c.body.Entries as unknown[]).length, 0);
  figures.deliveries = deliveries;
  figures.duplicateDeliveries = duplicateDeliveries;

  // The same tick bundle against the fault-injecting loopback: the first 8 PutEvents calls are throttled.
  const loopback = await startEventBridgeLoopback({
    faultPlan: (i: number) => (i < 8 ? 'throttle' : 'ok'),
  });
  try {
    const toPublish = await scheduler.scheduleMany(
      Array.from({ length: 20 }, (_, userId) => ({
        handler: 'send-reminder',
        payload: { userId: 10_000 + userId },
        at: new Date(Date.now() - 1_000),
      })),
    );
    loopbackTick = new LambdaProcess(
      functions.get('TasksTick')!.bundle,
      functions.get('TasksTick')!.logicalId,
      lambdaEnv(functions.get('TasksTick')!, proxies.get('TasksTick')!.url, {
        // EventBridge to the loopback, Secrets Manager still to moto (through the recording proxy).
        AWS_ENDPOINT_URL_EVENTBRIDGE: loopback.url,
        TICKSET_PRECISION: 'minute',
      }),
    );
    const ids = new Set(toPublish.map((r) => r.id));
    const loopDeadline = Date.now() + 60_000;
    while ([...ids].some((id) => !loopback.deliveredDetails<{ id: string }>().some((d) => d.id === id))) {
      if (Date.now() > loopDeadline) throw new Error('loopback: not every task was published within 60 s');
      const r = await loopbackTick.invoke(scheduledEvent(), 40_000);
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
    loopbackEntries = loopback.received.length;
    loopbackRequests = loopback.requests.map(
      (r) => `${r.index}:${typeof r.fault === 'string' ? r.fault : 'x'}:${r.status}:${r.entries.length}`,
    );
    for (const id of ids) await scheduler.cancel(id);
  } finally {
    await loopbackTick.close();
    await loopback.close();
  }
  await Promise.all([...processes.values()].map((p) => p.close()));
  figures.totalMs = Date.now() - started;
  console.log(`deployed e2e figures: ${JSON.stringify(figures)}; loopback entries ${loopbackEntries}`);
  // Keep the scheduler for the assertions.
  (globalThis as Json).__e2eScheduler = scheduler;
}, 400_000);

afterAll(async () => {
  for (const p of processes.values()) p.kill();
  loopbackTick?.kill();
  await ((globalThis as Json).__e2eScheduler as Scheduler | undefined)?.close();
  for (const p of proxies.values()) await p.close();
  await new Promise((r) => (partner ? partner.close(r) : r(undefined)));
  await moto?.stop();
  await redis?.stop();
  certs?.remove();
});

describe('the bundled stack in emulated AWS (moto)', () => {
  it('delivers every task to its own handler, which acks it', async () => {
    const scheduler = (globalThis as Json).__e2eScheduler as Scheduler;
    const succeeded = (fn: string) =>
      new Set(
        handled.filter((h) => h.fn === fn && h.result.result?.status === 'succeeded').map((h) => h.detail.id),
      );
    const reminders = succeeded('SendReminder');
    const devices = succeeded('SyncDevice');
    for (const id of scheduled.reminders) expect(reminders.has(id), id).toBe(true);
    for (const id of scheduled.devices) expect(devices.has(id), id).toBe(true);
    for (const h of handled) {
      expect(h.detail.handler).toBe(h.fn === 'SendReminder' ? 'send-reminder' : 'sync-device');
    }
    // Acked: the one-off jobs are gone from the store.
    for (const id of [...scheduled.reminders, ...scheduled.devices])
      expect(await scheduler.get(id)).toBeUndefined();
    expect(figures.tasks).toBe(TOTAL);
  });

  it('runs no effect twice, despite duplicate deliveries', () => {
    expect(duplicateDeliveries).toBeGreaterThanOrEqual(Math.floor(TOTAL / 4));
    const sent = processes
      .get('SendReminder')!
      .output.filter((l) => l.includes('"reminder sent"'))
      .map((l) => JSON.parse(l) as { userId: number; idempotencyKey: string });
    expect(sent).toHaveLength(REMINDERS);
    expect(new Set(sent.map((s) => s.userId)).size).toBe(REMINDERS);
    const ok = partnerCalls.filter((c) => c.status === 200);
    expect(new Set(ok.map((c) => c.key)).size).toBe(ok.length);
    expect(ok.filter((c) => c.deviceId !== 'device-series')).toHaveLength(DEVICES);
  });

  it('starts nothing for a forged event (no live claim behind it)', () => {
    expect(forged).toMatchObject({ ok: true, result: { status: 'stale' } });
    expect(['cancelled', 'unknown']).toContain(forged.result?.reason);
  });

  it('retries a task that failed once, then completes it', () => {
    const flaky = handled.filter((h) => h.detail.id === scheduled.flaky);
    const statuses = flaky.map((h) => h.result.result?.status);
    expect(statuses.filter((s) => s !== 'duplicate' && s !== 'stale')).toEqual(['retrying', 'succeeded']);
    // A second delivery of the failed attempt's event is fenced at start (its claim is no longer live), so
    // the partner API sees exactly the two calls: the failure and the retry.
    for (const h of flaky.filter((f) => f.result.result?.status === 'stale'))
      expect(h.result.result?.reason).toBe('superseded');
    expect(partnerCalls.filter((c) => c.deviceId === FLAKY).map((c) => c.status)).toEqual([500, 200]);
  });

  it('runs the recurring series (created by the producer bundle) once per occurrence', () => {
    const runs = partnerCalls.filter((c) => c.deviceId === 'device-series' && c.status === 200);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(new Set(runs.map((c) => c.key)).size).toBe(runs.length);
  });

  it("dead-letters the unknown handler's task (tick), a failing task (handler), and expires the late one", async () => {
    const scheduler = (globalThis as Json).__e2eScheduler as Scheduler;
    expect((await scheduler.get(scheduled.unknown))?.state).toBe('dead');
    expect((await scheduler.get(scheduled.bad))?.state).toBe('dead');
    expect(handled.some((h) => h.detail.id === scheduled.unknown)).toBe(false);
    expect(handled.some((h) => h.detail.id === scheduled.expired)).toBe(false);
  });

  it('reads the cache secret from Secrets Manager in every function', () => {
    for (const name of ['TasksTick', 'SendReminder', 'SyncDevice', 'Producer']) {
      const reads = proxies.get(name)!.calls.filter((c) => c.action === 'secretsmanager:GetSecretValue');
      expect(reads.length, name).toBeGreaterThanOrEqual(1);
      for (const r of reads) expect(r.body.SecretId).toBe(secretArn);
    }
  });

  it('publishes every task through PutEvents on the bus of the template', () => {
    const puts = proxies.get('TasksTick')!.calls.filter((c) => c.action === 'events:PutEvents');
    for (const put of puts) for (const e of put.body.Entries as Json[]) expect(e.EventBusName).toBe(BUS);
    expect(figures.putEventsEntries).toBeGreaterThanOrEqual(REMINDERS + DEVICES + 3);
    // moto accepted every entry: the tick never had to release a task for a publish failure.
    const failures = emfRecords(motoTick.output).filter((r) =>
      r.metrics.some((m) => m.Name === METRICS.publishFailures),
    );
    expect(failures).toEqual([]);
  });

  it('runs the same tick bundle against the fault-injecting loopback: throttled entries are published again', () => {
    expect(loopbackEntries).toBeGreaterThan(20);
    const failures = emfRecords(loopbackTick.output).filter((r) =>
      r.metrics.some((m) => m.Name === METRICS.publishFailures),
    );
    expect(
      failures.length,
      `${loopbackRequests.join(' ')} || ${loopbackTick.output.filter((l) => !l.includes('"_aws"')).join('\n')} || ${loopbackTick.output
        .filter((l) => l.includes('"_aws"'))
        .join('\n')
        .slice(0, 1500)}`,
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('runtime/infra contract', () => {
  /** Every metric an alarm or a dashboard widget reads: namespace, name, dimensions (name -> value). */
  function metricsRead(): { namespace: string; name: string; dimensions: Record<string, Json> }[] {
    const read: { namespace: string; name: string; dimensions: Record<string, Json> }[] = [];
    for (const [, alarm] of resources('AWS::CloudWatch::Alarm')) {
      const p = alarm.Properties;
      if (p.MetricName) {
        read.push({
          namespace: p.Namespace,
          name: p.MetricName,
          dimensions: Object.fromEntries((p.Dimensions ?? []).map((d: Json) => [d.Name, d.Value])),
        });
      }
      for (const m of p.Metrics ?? []) {
        if (!m.MetricStat) continue;
        const metric = m.MetricStat.Metric;
        read.push({
          namespace: metric.Namespace,
          name: metric.MetricName,
          dimensions: Object.fromEntries((metric.Dimensions ?? []).map((d: Json) => [d.Name, d.Value])),
        });
      }
    }
    const [, dashboard] = resources('AWS::CloudWatch::Dashboard')[0]!;
    const body = dashboard.Properties.DashboardBody;
    const text =
      typeof body === 'string'
        ? body
        : (body['Fn::Join'][1] as Json[])
            .map((p) => (typeof p === 'string' ? p : JSON.stringify(JSON.stringify(p)).slice(1, -1)))
            .join('');
    for (const widget of (JSON.parse(text) as { widgets: Json[] }).widgets) {
      for (const m of widget.properties?.metrics ?? []) {
        const parts = (m as Json[]).filter(
          (x) => typeof x !== 'object' || x === null || Array.isArray(x) || !('expression' in x),
        );
        if (typeof parts[0] !== 'string' || parts[0] === '.') continue;
        const [namespace, name, ...rest] = parts.filter(
          (x) => typeof x === 'string' || typeof x !== 'object',
        );
        const dims: Record<string, Json> = {};
        for (let i = 0; i + 1 < rest.length; i += 2) dims[rest[i] as string] = rest[i + 1];
        read.push({ namespace: namespace as string, name: name as string, dimensions: dims });
      }
    }
    return read;
  }

  it('emits every Tickset metric an alarm or widget reads, with the same name and dimensions', () => {
    const emitted = new Map<string, Set<string>>(); // "name|service|Namespace" -> units
    for (const p of [...processes.values(), loopbackTick]) {
      for (const r of emfRecords(p.output)) {
        expect(r.namespace).toBe(DEFAULTS.metricsNamespace);
        for (const dims of r.dimensions) expect([...dims].sort()).toEqual([...METRIC_DIMENSIONS].sort());
        for (const m of r.metrics) {
          const key = `${m.Name}|${r.values.service}|${r.values.Namespace}`;
          emitted.set(key, (emitted.get(key) ?? new Set()).add(m.Unit));
          const catalog = METRIC_CATALOG[m.Name as MetricName];
          expect(catalog, m.Name).toBeDefined();
          expect(m.Unit, m.Name).toBe(catalog.unit);
          expect(catalog.emitters.map((e) => SERVICES[e])).toContain(r.values.service);
        }
      }
    }
    const read = metricsRead();
    const own = read.filter((m) => m.namespace === DEFAULTS.metricsNamespace);
    expect(own.length).toBeGreaterThan(5);
    for (const m of own) {
      expect(Object.keys(m.dimensions).sort(), m.name).toEqual([...METRIC_DIMENSIONS].sort());
      const key = `${m.name}|${m.dimensions.service}|${m.dimensions.Namespace}`;
      const catalog = METRIC_CATALOG[m.name as MetricName];
      expect(catalog, `${m.name} is read but not in METRIC_CATALOG`).toBeDefined();
      expect(catalog.emitters.map((e) => SERVICES[e])).toContain(m.dimensions.service);
      if (NOT_EXERCISED.has(m.name)) continue;
      expect(emitted.has(key), `${key} is read by an alarm or widget but was not emitted`).toBe(true);
    }
    // Every metric in the catalog was emitted by the run (success, failure, retry, dead, expiry, publish failure).
    for (const [name, { emitters }] of Object.entries(METRIC_CATALOG)) {
      if (NOT_EXERCISED.has(name)) continue;
      for (const emitter of emitters) {
        expect(
          [...emitted.keys()].some((k) => k.startsWith(`${name}|${SERVICES[emitter]}|`)),
          `${name} from ${emitter}`,
        ).toBe(true);
      }
    }
  });

  it('reads AWS/* metrics only from the one list in the contract module, with its dimensions', () => {
    const known = Object.values(AWS_METRICS);
    for (const m of metricsRead().filter((x) => x.namespace.startsWith('AWS/'))) {
      const entry = known.find(
        (k) =>
          k.namespace === m.namespace &&
          k.metricName === m.name &&
          [...k.dimensions].sort().join() === Object.keys(m.dimensions).sort().join(),
      );
      expect(entry, `${m.namespace} ${m.name} ${Object.keys(m.dimensions)}`).toBeDefined();
      expect(entry!.doc).toMatch(/^https:\/\/docs\.aws\.amazon\.com\//);
    }
  });

  it('sets every environment variable the code reads, and the code reads every one the construct sets', () => {
    const contract = new Set<string>(Object.values(ENV));
    for (const [name, fn] of functions) {
      const p = processes.get(name)!;
      const set = new Set(Object.keys(fn.templateEnv));
      const read = p.envRead.filter((v) => contract.has(v) || v.startsWith('TICKSET_'));
      expect(read.length, name).toBeGreaterThan(0);
      for (const v of read) {
        expect(contract.has(v), `${name} reads ${v}, which is not in the contract (src/config/env.ts)`).toBe(
          true,
        );
        if (!OPTIONAL_ENV.has(v))
          expect(set.has(v), `${name} reads ${v}, which the construct does not set`).toBe(true);
      }
      for (const v of set) {
        if (READ_BY_NODE.has(v)) continue;
        expect(p.envRead.includes(v), `the construct sets ${v} on ${name}, which its code never reads`).toBe(
          true,
        );
      }
    }
  });
});

describe('IAM contract (moto enforces no IAM: checked on the template)', () => {
  /** The actions each statement of the policies attached to `role` allows, with its resources. */
  function statementsOf(role: string): { actions: string[]; resources: Json[] }[] {
    const statements: { actions: string[]; resources: Json[] }[] = [];
    for (const [, policy] of resources('AWS::IAM::Policy')) {
      if (!policy.Properties.Roles.some((r: Json) => r.Ref === role)) continue;
      for (const s of policy.Properties.PolicyDocument.Statement) {
        expect(s.Effect).toBe('Allow');
        statements.push({ actions: [s.Action].flat(), resources: [s.Resource].flat() });
      }
    }
    return statements;
  }

  it("allows each bundle's AWS calls on the right resources, and nothing more", () => {
    const map = {
      ...substitutions(redis.port),
      [`GetAtt:${idOf('AWS::Events::EventBus', 'Bus')}.Arn`]: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${BUS}`,
    };
    for (const [name, fn] of functions) {
      const calls = proxies.get(name)!.calls;
      const called = new Set(calls.map((c) => c.action));
      expect(called.size, name).toBeGreaterThan(0);
      const statements = statementsOf(fn.role);
      for (const call of calls) {
        const resource =
          call.action === 'events:PutEvents'
            ? `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${(call.body.Entries as Json[])[0].EventBusName}`
            : String(call.body.SecretId);
        const allowed = statements.some(
          (s) => s.actions.includes(call.action) && s.resources.some((r) => resolveWith(map, r) === resource),
        );
        expect(allowed, `${name}: ${call.action} on ${resource}`).toBe(true);
      }
      const granted = new Set(statements.flatMap((s) => s.actions));
      expect([...granted].sort(), `${name}'s role allows more than it calls`).toEqual([...called].sort());
    }
  });

  it('lets CloudWatch (this account only) publish to the alarm topic and use its key', () => {
    const topic = idOf('AWS::SNS::Topic', 'Topic');
    const [, policy] = resources('AWS::SNS::TopicPolicy')[0]!;
    expect(policy.Properties.Topics).toEqual([{ Ref: topic }]);
    const allow = (policy.Properties.PolicyDocument.Statement as Json[]).filter((s) => s.Effect === 'Allow');
    expect(allow).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topic },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
    const [, key] = resources('AWS::KMS::Key')[0]!;
    const cw = (key.Properties.KeyPolicy.Statement as Json[]).find(
      (s) => s.Principal?.Service === 'cloudwatch.amazonaws.com',
    );
    expect([cw.Action].flat().sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
  });
});
