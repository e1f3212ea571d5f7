/**
 * The tick Lambda: an EventBridge `rate(1 minute)` rule invokes it. It adapts the event and runs the core
 * tick loop: one pass in `minute` mode, or a loop until just before the next invocation in `second` mode.
 * Connections are made once per container and reused across invocations.
 */
import type { Context } from 'aws-lambda';
import { SERVICES } from '../config/env.js';
import type { Engine } from '../core/engine.js';
import { createLogger } from '../observability/logger.js';
import { PowertoolsMetricsSink } from '../observability/metrics.js';
import { EventBridgePublisher } from '../publish/eventbridge.js';
import { engineFromEnv } from '../runtime/from-env.js';
import { loopDeadline, type TickConfig, tickConfigFromEnv } from './config.js';
import { type PassStats, TickLoop } from './loop.js';

interface TickDeps {
  readonly engine: Engine;
  readonly config: TickConfig;
  readonly publisher: EventBridgePublisher;
}

let deps: Promise<TickDeps> | undefined;
const logger = createLogger(SERVICES.tick);

async function init(): Promise<TickDeps> {
  const config = tickConfigFromEnv();
  const engine = await engineFromEnv();
  const publisher = new EventBridgePublisher({
    eventBusName: config.eventBusName,
    source: config.source,
    detailType: config.detailType,
    batch: config.batch,
  });
  return { engine, config, publisher };
}

export interface TickResult {
  readonly mode: 'second' | 'minute';
  readonly led: boolean;
  readonly passes: number;
  readonly totals: PassStats;
}

export const handler = async (_event: unknown, context: Context): Promise<TickResult> => {
  deps ??= init().catch((error: unknown) => {
    deps = undefined;
    throw error;
  });
  const { engine, config, publisher } = await deps;
  const metrics = new PowertoolsMetricsSink(engine.namespace, { serviceName: SERVICES.tick });
  const loop = new TickLoop({
    engine,
    publisher,
    leaseMs: config.leaseMs,
    defaultLeaseMs: config.defaultLeaseMs,
    rateLimits: config.rateLimits,
    ...(config.knownHandlers ? { knownHandlers: config.knownHandlers } : {}),
    metrics,
    logger,
    ownerId: `${context.logStreamName ?? 'local'}/${context.awsRequestId}`,
  });
  if (config.precision === 'minute') {
    const totals = await loop.pass();
    metrics.flush();
    logger.info('tick pass', { ...totals });
    return { mode: 'minute', led: true, passes: 1, totals };
  }
  const until = loopDeadline(Date.now(), context.getRemainingTimeInMillis());
  const result = await loop.run(until);
  logger.info('tick loop finished', { led: result.led, passes: result.passes, ...result.totals });
  return { mode: 'second', ...result };
};
