/**
 * The composition root: the one place that builds tickset's parts from the environment the CDK construct
 * sets (`src/config/env.ts` names every variable). The tick Lambda (`src/tick/lambda.ts`), the handler
 * wrapper (`src/handler/task-handler.ts`) and the producer API (`Scheduler.fromEnv`) all start here, so a
 * runtime never goes through the producer API (and its validation, zod included) to get an engine.
 */
import { DEFAULTS, ENV } from '../config/env.js';
import { Engine } from '../core/engine.js';
import { validateParkAfterMs } from '../core/parking.js';
import { connectFromEnv, type RedisClient } from '../redis/connection.js';

/** What the environment says about the store, read without connecting. */
export interface StoreConfig {
  readonly namespace: string;
  readonly shards: number;
  /** Known handler names (TICKSET_HANDLERS), when set. */
  readonly handlers?: readonly string[];
  /** TICKSET_PARK_AFTER_MS, when set (producers only: the tick and the handler never park). */
  readonly parkAfterMs?: number;
}

/** Comma-separated handler names, or undefined when none is set. */
export function handlersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const handlers = env[ENV.handlers]
    ?.split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  return handlers && handlers.length > 0 ? handlers : undefined;
}

/** Reads TICKSET_NAMESPACE, TICKSET_SHARDS, TICKSET_HANDLERS and TICKSET_PARK_AFTER_MS (throws on a bad value). */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const parkAfterMs = env[ENV.parkAfterMs] ? validateParkAfterMs(Number(env[ENV.parkAfterMs])) : undefined;
  const handlers = handlersFromEnv(env);
  return {
    namespace: env[ENV.namespace] || DEFAULTS.namespace,
    shards: env[ENV.shards] ? Number(env[ENV.shards]) : 1,
    ...(handlers ? { handlers } : {}),
    ...(parkAfterMs !== undefined ? { parkAfterMs } : {}),
  };
}

/**
 * The store connection and its config from the environment: the config is checked before connecting, so a
 * bad value leaves no connection behind.
 */
export async function connectStoreFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ readonly redis: RedisClient; readonly config: StoreConfig }> {
  const config = storeConfigFromEnv(env);
  const redis = await connectFromEnv(env);
  return { redis, config };
}

/** An engine over a connection made from the environment (the tick's and the handler wrapper's). */
export async function engineFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const { redis, config } = await connectStoreFromEnv(env);
  return new Engine(redis, { namespace: config.namespace, shards: config.shards });
}
