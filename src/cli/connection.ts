/**
 * Where the CLI (and the demo) find Redis, and a fail-fast probe. The library's own clients retry for
 * ever (right for a Lambda riding out a failover); a command line must say "cannot reach" within seconds.
 */
import { ENV } from '../config/env.js';
import type { TicksetError } from '../errors.js';
import { redactUrl } from '../observability/logger.js';
import { type ConnectOptions, connect, type RedisClient } from '../redis/connection.js';
import { connectionFailure } from '../redis/errors.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface RedisTarget {
  readonly url: string;
  /** Where the URL came from: `--redis`, an environment variable, or the default. */
  readonly source: '--redis' | typeof ENV.redisUrl | typeof ENV.redisUrlFallback | 'default';
}

/** `--redis`, then TICKSET_REDIS_URL, then REDIS_URL, then redis://127.0.0.1:6379. */
export function resolveRedisUrl(flag: string | undefined, env: NodeJS.ProcessEnv): RedisTarget {
  if (flag !== undefined) return { url: flag, source: '--redis' };
  if (env[ENV.redisUrl]) return { url: env[ENV.redisUrl]!, source: ENV.redisUrl };
  if (env[ENV.redisUrlFallback]) return { url: env[ENV.redisUrlFallback]!, source: ENV.redisUrlFallback };
  return { url: DEFAULT_REDIS_URL, source: 'default' };
}

export { redactUrl };

/**
 * Checks the URL before any connection, naming where it came from: `invalid --redis "garbage": expected ...`
 * or `invalid REDIS_URL "garbage": ...`. Returns an error message, or undefined when the URL is usable.
 */
export function checkRedisUrl(target: RedisTarget): string | undefined {
  const where = target.source === '--redis' ? '--redis' : target.source;
  const expected =
    'a redis:// or rediss:// URL such as redis://127.0.0.1:6379 or rediss://user:password@host:6379';
  if (target.url.trim() === '') return `invalid ${where}: it is empty; expected ${expected}`;
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return `invalid ${where} ${JSON.stringify(redactUrl(target.url))}: expected ${expected}`;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return `invalid ${where} ${JSON.stringify(redactUrl(target.url))}: scheme ${url.protocol} is not redis: or rediss:; expected ${expected}`;
  }
  if (!url.hostname)
    return `invalid ${where} ${JSON.stringify(redactUrl(target.url))}: no host; expected ${expected}`;
  return undefined;
}

export interface ProbeOptions extends Pick<ConnectOptions, 'tls' | 'username' | 'password'> {
  /** How long the TCP connect and the PING may take together. @default 1500 */
  readonly timeoutMs?: number;
  /** Timeout of every later command when the client is kept. @default 10000 */
  readonly commandTimeoutMs?: number;
}

export type ProbeResult =
  | { readonly ok: true; readonly client: RedisClient }
  | {
      readonly ok: false;
      /** What the socket or the server said, e.g. `connect ECONNREFUSED 127.0.0.1:6379`. */
      readonly reason: string;
      /** The failure named (src/redis/errors.ts `connectionFailure`), its message naming the redacted URL. */
      readonly error: TicksetError;
    };

/**
 * Connects once (no reconnects, no queued retries) and PINGs. On success the caller owns the client: it
 * fails fast from then on too, which suits a short-lived command. Throws ConfigurationError for a URL
 * that is not redis:// or rediss://.
 */
export async function probeRedis(url: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 1500;
  const client = connect(url, {
    ...(options.tls ? { tls: true } : {}),
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    redisOptions: {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      commandTimeout: options.commandTimeoutMs ?? 10_000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: true,
    },
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 250);
  });
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      deadline,
    ]);
    return { ok: true, client };
  } catch (error) {
    client.disconnect();
    // A peer that accepted the TCP connection but never answers keeps a half-closed socket (and this
    // process) alive after disconnect(): destroy it.
    (client as { stream?: { destroy(): void } }).stream?.destroy();
    const own = (error as Error).message;
    const cause = own === 'Connection is closed.' && lastError ? lastError : (error as Error);
    const reason = cause.message || 'connection failed';
    const tls = Boolean(options.tls) || url.startsWith('rediss:');
    return { ok: false, reason, error: connectionFailure(cause, redactUrl(url), tls) };
  } finally {
    clearTimeout(timer);
  }
}
