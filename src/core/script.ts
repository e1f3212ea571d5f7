/**
 * Runs a Lua script by SHA (EVALSHA) and falls back to EVAL when the server does not know it (a restarted
 * or failed-over Redis has an empty script cache). In a cluster, the first key routes the call, and every
 * key of a tickset script shares one hash tag.
 */
import type { RedisClient } from '../redis/connection.js';
import type { LuaSource } from './scripts.generated.js';

export type ScriptArg = string | number;

export async function runScript<T>(
  redis: RedisClient,
  script: LuaSource,
  keys: readonly string[],
  args: readonly ScriptArg[],
): Promise<T> {
  try {
    return (await redis.evalsha(script.sha1, keys.length, ...keys, ...args)) as T;
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return (await redis.eval(script.lua, keys.length, ...keys, ...args)) as T;
    }
    throw error;
  }
}
