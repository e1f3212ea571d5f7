/**
 * One tick process of the chaos run (a child of `chaos/run.ts`, killed with SIGKILL at random moments).
 *
 * It runs what the tick Lambda runs, against the parent's loopback EventBridge:
 * - a `TickLoop` in second mode (`run`) that loops only while it holds the short leader lease;
 * - a second `TickLoop` whose `pass()` it calls every few hundred milliseconds whatever the lease, like an
 *   overlapping minute-mode invocation, so claims really race between processes.
 *
 * Configuration comes as JSON in CHAOS_TICK_CONFIG. It prints `ready` once both loops are running, warnings
 * and errors as JSON lines on stderr, and stops cleanly on SIGTERM (the drain's end).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Engine } from '../src/core/engine.js';
import type { Publisher, PublishResult, TaskEventDetail } from '../src/core/types.js';
import type { TicksetLogger } from '../src/observability/logger.js';
import { EventBridgePublisher } from '../src/publish/eventbridge.js';
import { connect } from '../src/redis/connection.js';
import { TickLoop } from '../src/tick/loop.js';

export interface TickProcessConfig {
  readonly label: string;
  readonly redisUrl: string;
  readonly namespace: string;
  readonly shards: number;
  readonly eventBridgeUrl: string;
  readonly leaseMs: Readonly<Record<string, number>>;
  readonly defaultLeaseMs: number;
  readonly leaderLeaseMs: number;
  readonly knownHandlers: readonly string[];
  readonly extraPassEveryMs: readonly [number, number];
  readonly batchSize: number;
  /** Most tasks claimed and not yet published, per process (the tick claims no more than it can send). */
  readonly maxUnpublished: number;
  /** Batched delivery per handler (as `TICKSET_BATCH` sets it on AWS). */
  readonly batch: Readonly<Record<string, { readonly maxTasks: number }>>;
}

/**
 * Caps the tasks a process holds claimed but unpublished (`TickLoop` asks `capacity()` before each claim),
 * so a slow machine does not turn claims into expired leases before they are even sent.
 */
class BoundedPublisher implements Publisher {
  #pending = 0;
  constructor(
    private readonly inner: Publisher,
    private readonly max: number,
  ) {}
  capacity(): number {
    return Math.max(0, this.max - this.#pending);
  }
  async publish(tasks: readonly TaskEventDetail[]): Promise<PublishResult> {
    this.#pending += tasks.length;
    try {
      return await this.inner.publish(tasks);
    } finally {
      this.#pending -= tasks.length;
    }
  }
}

function stderrLogger(label: string): TicksetLogger {
  const write =
    (level: string) =>
    (message: string, ...extra: unknown[]) => {
      process.stderr.write(`${JSON.stringify({ level, label, message, extra })}\n`);
    };
  return { debug: () => undefined, info: () => undefined, warn: write('warn'), error: write('error') };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.CHAOS_TICK_CONFIG ?? '') as TickProcessConfig;
  const logger = stderrLogger(config.label);
  const redis = connect(config.redisUrl);
  // Redis restarts are part of the run: the client reconnects on its own; don't crash on 'error' events.
  redis.on('error', () => undefined);
  const engine = new Engine(redis, { namespace: config.namespace, shards: config.shards });
  const client = new EventBridgeClient({
    endpoint: config.eventBridgeUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDCHAOS', secretAccessKey: 'chaos-secret' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
  });
  const publisher = new BoundedPublisher(
    new EventBridgePublisher({
      client,
      eventBusName: 'tickset-chaos',
      maxAttempts: 3,
      baseDelayMs: 20,
      maxDelayMs: 200,
      batch: config.batch,
    }),
    config.maxUnpublished,
  );
  const common = {
    engine,
    publisher,
    leaseMs: config.leaseMs,
    defaultLeaseMs: config.defaultLeaseMs,
    knownHandlers: new Set(config.knownHandlers),
    batchSize: config.batchSize,
    publishRetryDelayMs: 250,
    logger,
  };
  const leader = new TickLoop({
    ...common,
    leaderLeaseMs: config.leaderLeaseMs,
    maxSleepMs: 200,
    ownerId: `${config.label}-loop`,
  });
  const extra = new TickLoop({ ...common, ownerId: `${config.label}-pass` });

  let stopping = false;
  const running = leader.run(Number.POSITIVE_INFINITY);
  const passes = (async () => {
    const [min, max] = config.extraPassEveryMs;
    while (!stopping) {
      await sleep(min + Math.random() * (max - min));
      if (stopping) break;
      try {
        await extra.pass();
      } catch (error) {
        logger.error('extra pass failed', { error: (error as Error).message });
      }
    }
  })();

  process.once('SIGTERM', () => {
    stopping = true;
    leader.stop();
    extra.stop();
    void (async () => {
      await running;
      await passes;
      client.destroy();
      await redis.quit().catch(() => undefined);
      process.exit(0);
    })();
  });
  process.stdout.write('ready\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', message: String(error) })}\n`);
  process.exit(1);
});
