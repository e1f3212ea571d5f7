/**
 * Redis connections: a URL, an existing ioredis client (single node or Cluster), or the Lambda environment
 * (`fromEnv`: endpoint, TLS, cluster mode, RBAC user, auth token from Secrets Manager).
 */
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

function baseOptions(url: URL, options: ConnectOptions): RedisOptions {
  const tls = options.tls || url.protocol === 'rediss:';
  const username = options.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = options.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  const db = url.pathname && url.pathname !== '/' ? Number(url.pathname.slice(1)) : undefined;
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 6379,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(tls ? { tls: { servername: url.hostname } } : {}),
    // Keep commands queued while reconnecting (e.g. a Redis restart or failover); callers time out on their own.
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
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
  if (!options.cluster) return new Redis(redisOptions);
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
