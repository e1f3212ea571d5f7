/** Reads the tick's configuration from the environment the CDK construct sets (see src/config/env.ts). */

import type { Precision } from '../config/env.js';
import { DEFAULTS, ENV } from '../config/env.js';
import type { HandlerLimits } from '../core/engine.js';
import type { BatchDeliveryLimits } from '../core/types.js';
import { ConfigurationError } from '../errors.js';

export interface TickConfig {
  readonly precision: Precision;
  readonly eventBusName: string;
  readonly source: string;
  readonly detailType: string;
  readonly leaseMs: Readonly<Record<string, number>>;
  readonly defaultLeaseMs: number;
  readonly rateLimits: Readonly<Record<string, HandlerLimits>>;
  /** Batched delivery per handler (`TICKSET_BATCH`); handlers not in it get one event per task. */
  readonly batch: Readonly<Record<string, BatchDeliveryLimits>>;
  readonly knownHandlers?: ReadonlySet<string>;
}

function parseJson<T>(
  name: string,
  text: string | undefined,
  check: (value: unknown) => value is T,
): T | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`${name} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!check(value))
    throw new ConfigurationError(`${name} has the wrong shape: see the README configuration table`);
  return value;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isLeases = (v: unknown): v is Record<string, number> =>
  isRecord(v) && Object.values(v).every((n) => typeof n === 'number' && n > 0);
const isLimits = (v: unknown): v is Record<string, HandlerLimits> =>
  isRecord(v) &&
  Object.values(v).every(
    (l) =>
      isRecord(l) &&
      Object.entries(l).every(
        ([k, n]) => (k === 'perSecond' || k === 'maxInFlight') && typeof n === 'number' && n >= 0,
      ),
  );

const isBatch = (v: unknown): v is Record<string, BatchDeliveryLimits> =>
  isRecord(v) &&
  Object.values(v).every(
    (l) =>
      isRecord(l) &&
      Object.entries(l).every(
        ([k, n]) => (k === 'maxTasks' || k === 'maxBytes') && Number.isInteger(n) && (n as number) >= 1,
      ),
  );

export function tickConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TickConfig {
  const precision = (env[ENV.precision] || 'second') as Precision;
  if (precision !== 'second' && precision !== 'minute') {
    throw new ConfigurationError(`${ENV.precision} is "${precision}": expected "second" or "minute"`);
  }
  const eventBusName = env[ENV.eventBusName];
  if (!eventBusName)
    throw new ConfigurationError(`${ENV.eventBusName} is not set: expected the tickset event bus name`);
  const handlers = env[ENV.handlers]
    ?.split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const defaultLeaseMs = env[ENV.leaseMs] ? Number(env[ENV.leaseMs]) : DEFAULTS.leaseMs;
  if (!Number.isFinite(defaultLeaseMs) || defaultLeaseMs <= 0) {
    throw new ConfigurationError(
      `${ENV.leaseMs} is "${env[ENV.leaseMs]}": expected a positive number of milliseconds`,
    );
  }
  return {
    precision,
    eventBusName,
    source: env[ENV.eventSource] || DEFAULTS.eventSource,
    detailType: env[ENV.eventDetailType] || DEFAULTS.eventDetailType,
    leaseMs: parseJson(ENV.leaseMsByHandler, env[ENV.leaseMsByHandler], isLeases) ?? {},
    defaultLeaseMs,
    rateLimits: parseJson(ENV.rateLimits, env[ENV.rateLimits], isLimits) ?? {},
    batch: parseJson(ENV.batchDelivery, env[ENV.batchDelivery], isBatch) ?? {},
    ...(handlers && handlers.length > 0 ? { knownHandlers: new Set(handlers) } : {}),
  };
}

/**
 * How long one `second`-mode invocation loops: until 70 s after it started (so it overlaps the next
 * minute's invocation, which waits as a follower and takes the leader lease when this one releases it),
 * and never closer than 5 s to the Lambda timeout.
 */
export function loopDeadline(now: number, remainingMs: number): number {
  return now + Math.max(0, Math.min(70_000, remainingMs - 5_000));
}
