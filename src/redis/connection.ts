/**
 * Redis connections: a URL, an existing ioredis client (single node or Cluster), or the Lambda environment
 * (`fromEnv`: endpoint, TLS, cluster mode, RBAC user, auth token from Secrets Manager).
 */
import { isIP } from 'node:net';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { ENV } from '../config/env.js';
import { ConfigurationError } from '../errors.js';

/** A client tickset can use: a single-node ioredis client or an ioredis Cluster. */
export type RedisClient = Redis | Cluster;

export interface ConnectOptions {
  /** Connect as a cluster client (ElastiCache Serverless, cluster-mode groups, MemoryDB). @default false */
  readonly cluster?: boolean;
  /** Force TLS even for a `redis://` URL. @default - TLS only for `rediss://` */
  readonly tls?: boolean;
  /** RBAC / ACL user name. @default - from the URL, else none */
  readonly username?: string;
  /** Password or auth token. @default - from the URL, else none */
  readonly password?: string;
  /** Extra ioredis options. */
  readonly redisOptions?: RedisOptions;
}

/**
 * Reconnection attempts a command waits through before it fails with StoreUnavailableError. With the
 * backoff below (100 ms doubling to 2 s) that is about 35 s: long enough to ride out a Redis restart or an
 * ElastiCache failover, short enough that a producer Lambda gets an error instead of its own timeout.
 */
export const DEFAULT_RETRIES_PER_COMMAND = 20;

/** Commands that ioredis writes as soon as they are called (`autoPipeliningIgnoredCommands`). */
export const SCRIPT_COMMANDS: readonly string[] = ['evalsha', 'eval'];

/** The last connection error of each client this module opened (the reason behind "Connection is closed"). */
const lastErrors = new WeakMap<object, Error>();

/** The last connection error seen on a client opened by `connect`, if any. */
export function lastConnectionError(client: RedisClient): Error | undefined {
  return lastErrors.get(client);
}

/** Whether a client connects with TLS (for error messages that hint at TLS on one side only). */
export function usesTls(client: RedisClient): boolean {
  const options = client instanceof Cluster ? client.options.redisOptions : client.options;
  return Boolean(options?.tls);
}

/** `host:port` of a client (the first startup node of a cluster), for error messages: never credentials. */
export function endpointOf(client: RedisClient): string {
  if (client instanceof Cluster) {
    // `startupNodes` is private in ioredis's types but set on every Cluster; read it for the message only.
    const [node] = (
      client as unknown as { startupNodes: Array<{ host?: string; port?: number } | string | number> }
    ).startupNodes;
    if (typeof node === 'object' && node) return `${node.host ?? '127.0.0.1'}:${node.port ?? 6379} (cluster)`;
    return `${String(node)} (cluster)`;
  }
  const { host, port, path } = client.options;
  return path ? path : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

function baseOptions(url: URL, options: ConnectOptions): RedisOptions {
  const tls = options.tls || url.protocol === 'rediss:';
  // An IPv6 literal keeps its brackets in URL.hostname; sockets and certificate checks want it bare.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const username = options.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = options.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  const db = url.pathname && url.pathname !== '/' ? Number(url.pathname.slice(1)) : undefined;
  return {
    host,
    port: url.port ? Number(url.port) : 6379,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    // SNI names a host, never an address (RFC 6066; Node warns with DEP0123): certificates of an address
    // are still checked against its IP SANs.
    ...(tls ? { tls: isIP(host) ? {} : { servername: host } } : {}),
    // Keep commands queued while reconnecting (e.g. a Redis restart or failover), for a bounded time.
    maxRetriesPerRequest: DEFAULT_RETRIES_PER_COMMAND,
    enableAutoPipelining: true,
    // Script calls are written at once, not held until the end of the tick with the other commands of it:
    // each already carries a batch (scheduleMany, the schedule coalescer, a claim, the handler wrapper's
    // batches), and writing it at once lets Redis run it while Node prepares the next one. Held back, the
    // batches of a burst went out, ran and came back together, with Redis and Node taking turns (batched
    // schedule 222k -> 308k jobs/s, end to end +10%: BENCHMARKS.md). Plain commands keep auto-pipelining.
    autoPipeliningIgnoredCommands: [...SCRIPT_COMMANDS],
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    ...options.redisOptions,
  };
}

/** Opens a client for a `redis://` or `rediss://` URL. */
export function connect(urlText: string, options: ConnectOptions = {}): RedisClient {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch (error) {
    throw new ConfigurationError(
      `Invalid Redis URL ${JSON.stringify(urlText.replace(/\/\/[^@/]*@/, '//***@'))}: expected redis://[user:password@]host:port or rediss://...`,
      { cause: error },
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigurationError(`Invalid Redis URL scheme ${url.protocol}: expected redis: or rediss:`);
  }
  const redisOptions = baseOptions(url, options);
  return watchErrors(options.cluster ? openCluster(redisOptions) : new Redis(redisOptions));
}

/** A second connection with the same options as `client` (its own socket), errors handled as `connect`'s. */
export function duplicateConnection(client: RedisClient): RedisClient {
  return watchErrors(client.duplicate());
}

function watchErrors(client: RedisClient): RedisClient {
  // Without a listener ioredis prints every failed reconnect to stderr ("Unhandled error event"). The error
  // reaches callers anyway, as the rejection of their command; keep the reason for that error's message.
  client.on('error', (error: Error) => {
    // ioredis also emits its MaxRetriesPerRequestError here: that is the outcome, not the reason behind it.
    if (!/max retries per request/i.test(error.message)) lastErrors.set(client, error);
  });
  return client;
}

function openCluster(redisOptions: RedisOptions): Cluster {
  const { host, port, ...nodeOptions } = redisOptions;
  const clusterOptions: ClusterOptions = {
    // ElastiCache / MemoryDB certificates name the configuration endpoint: keep the hostname for TLS.
    dnsLookup: (address, callback) => callback(null, address),
    // Auto-pipelining across slots trips ioredis' "same slots allocation group" check: off for clusters.
    redisOptions: { ...nodeOptions, enableAutoPipelining: false },
    enableAutoPipelining: false,
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
  return new Cluster([{ host: host ?? '127.0.0.1', port: port ?? 6379 }], clusterOptions);
}

async function readSecret(secretId: string): Promise<string> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({});
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!SecretString) throw new ConfigurationError(`Secret ${secretId} has no string value`);
    if (SecretString.trimStart().startsWith('{')) {
      const parsed = JSON.parse(SecretString) as { password?: string; authToken?: string };
      const value = parsed.password ?? parsed.authToken;
      if (!value) throw new ConfigurationError(`Secret ${secretId} is JSON without a "password" field`);
      return value;
    }
    return SecretString;
  } finally {
    client.destroy();
  }
}

function flag(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/** Reads the connection from the environment (see ENV); fetches the auth token from Secrets Manager. */
export async function connectFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<RedisClient> {
  const url = env[ENV.redisUrl];
  if (!url) {
    throw new ConfigurationError(
      `${ENV.redisUrl} is not set: expected the cache endpoint, e.g. rediss://my-cache.xxxx.cache.amazonaws.com:6379`,
    );
  }
  // Opt-in IAM authentication instead of a password: src/redis/iam-auth.ts.
  if (flag(env[ENV.redisIamAuth])) return (await import('./iam-auth.js')).connectWithIamFromEnv(url, env);
  const secret = env[ENV.redisAuthSecretArn];
  const password = secret ? await readSecret(secret) : undefined;
  const username = env[ENV.redisUsername] || undefined;
  return connect(url, {
    cluster: flag(env[ENV.redisCluster]),
    tls: flag(env[ENV.redisTls]),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  });
}
