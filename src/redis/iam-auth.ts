/**
 * Opt-in IAM authentication to ElastiCache / MemoryDB (Valkey / Redis OSS 7+, TLS, an RBAC user in IAM
 * mode). A token is valid for 15 minutes and the server drops an IAM-authenticated connection after 12
 * hours unless it authenticates again. ioredis has no credential provider: its AUTH on connect sends the
 * `password` option as it was when the connection started. So IAM connections authenticate in their own
 * connector (ioredis's `Connector` option), which every connection of a client goes through: the first
 * one, every reconnection, every cluster node's and every `duplicate()`:
 *
 * 1. sign a fresh token (`iamAuthTokenSigner`), open the socket (TLS), send `AUTH <user> <token>` and read
 *    the one-line reply, then hand the authenticated socket to ioredis (which sends no AUTH of its own:
 *    the ioredis options carry no user name nor password);
 * 2. `-WRONGPASS` / `-NOAUTH` (a token that was refused): close, sign a new token and try again, up to
 *    `maxAuthAttempts` in all; still refused is a configuration error (ConfigurationError), which fails the
 *    client's queued commands and ends the client instead of retrying forever;
 * 3. the socket or the credentials failing (refused, timed out, no credentials yet): a closed socket goes
 *    back to ioredis with the error, so its usual retry strategy reconnects (through this connector again).
 *
 * A timer (every `reauthenticateEveryMs`, 10 h by default, under the 12 h limit) sends `AUTH` with a new
 * token on every live connection of the client (every node of a cluster); a refused re-authentication
 * closes that connection, whose reconnection then authenticates with a new token as above. Connections
 * made with `duplicate()` (e.g. the tick's subscriber, which may not send AUTH in subscriber mode) are not
 * on the timer: when the server drops one after 12 hours, ioredis reconnects it (and resubscribes) through
 * this connector, with a new token.
 *
 * ElastiCache and MemoryDB do not accept IAM authentication inside MULTI / EXEC; tickset sends none (its
 * atomic steps are Lua scripts).
 */
import { type NetConnectOpts, connect as netConnect, Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { AbstractConnector, Cluster, type Redis, type RedisOptions } from 'ioredis';
import { ENV } from '../config/env.js';
import { ConfigurationError } from '../errors.js';
import { type ConnectOptions, connect, type RedisClient } from './connection.js';
import { type IamAuthService, type IamAuthTokenSigner, iamAuthTokenSigner } from './iam-token.js';

/** Re-authenticate live connections this often: under the 12 h after which the server drops them. */
export const DEFAULT_REAUTHENTICATE_EVERY_MS = 10 * 60 * 60 * 1000;
/** Tokens tried per connection before a refusal counts as a configuration error: one, then one fresh. */
export const DEFAULT_MAX_AUTH_ATTEMPTS = 2;

/** Timer functions, injectable for tests. */
export interface IamTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface IamAuthOptions {
  /** RBAC user (ElastiCache: name = id). */
  readonly username: string;
  /** Signs a new token per call (`iamAuthTokenSigner`). */
  readonly sign: IamAuthTokenSigner;
  /** @default DEFAULT_REAUTHENTICATE_EVERY_MS (10 h) */
  readonly reauthenticateEveryMs?: number;
  /** @default DEFAULT_MAX_AUTH_ATTEMPTS (2) */
  readonly maxAuthAttempts?: number;
  /** @default the global setInterval / clearInterval (unref'd) */
  readonly timers?: IamTimers;
}

const REFUSED = /^-(WRONGPASS|NOAUTH)\b/;
const CONNECTION_CLOSED = 'Connection is closed.';

/** Socket options as ioredis's own StandaloneConnector builds them. */
function socketOptions(options: RedisOptions): NetConnectOpts & ConnectionOptions {
  const o = options as RedisOptions & { path?: string; family?: number };
  if (o.path) return { path: o.path };
  return {
    port: o.port ?? 6379,
    host: o.host ?? '127.0.0.1',
    ...(o.family != null ? { family: o.family } : {}),
    ...(o.tls ? o.tls : {}),
  };
}

function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'refused'; readonly reply: string }
  | { readonly kind: 'failed'; readonly error: Error };

/** Waits for the socket to connect, sends AUTH and reads the reply line, within `timeoutMs`. */
function authenticate(
  stream: Socket,
  tls: boolean,
  username: string,
  token: string,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let buffered = '';
    let settled = false;
    const finish = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('close', onClose);
      stream.off(tls ? 'secureConnect' : 'connect', onConnect);
      resolve(outcome);
    };
    const onError = (error: Error): void => finish({ kind: 'failed', error });
    const onClose = (): void => finish({ kind: 'failed', error: new Error(CONNECTION_CLOSED) });
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\r\n');
      if (end === -1) return;
      const line = buffered.slice(0, end);
      if (line === '+OK') finish({ kind: 'ok' });
      else if (REFUSED.test(line)) finish({ kind: 'refused', reply: line.slice(1) });
      else finish({ kind: 'failed', error: new Error(`AUTH answered ${line.slice(0, 200)}`) });
    };
    const onConnect = (): void => {
      stream.write(encodeCommand(['AUTH', username, token]));
    };
    const timer = setTimeout(() => {
      const error = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT', syscall: 'connect' });
      finish({ kind: 'failed', error });
    }, timeoutMs);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('close', onClose);
    if (stream.connecting) stream.once(tls ? 'secureConnect' : 'connect', onConnect);
    else onConnect();
  });
}

/**
 * An ioredis `Connector` class that authenticates each new connection with a freshly signed IAM token
 * (see the module comment). Pass it as `redisOptions.Connector`, with no `username` / `password`.
 */
export function iamConnector(
  auth: Pick<IamAuthOptions, 'username' | 'sign' | 'maxAuthAttempts'>,
): new (
  options: unknown,
) => AbstractConnector {
  const attempts = Math.max(1, auth.maxAuthAttempts ?? DEFAULT_MAX_AUTH_ATTEMPTS);
  return class IamConnector extends AbstractConnector {
    private readonly options: RedisOptions;

    constructor(options: unknown) {
      const redisOptions = options as RedisOptions;
      super(redisOptions.disconnectTimeout ?? 2000);
      this.options = redisOptions;
    }

    /** A socket that is already closed, with `error` as the reason: ioredis reports it and reconnects. */
    private closedWith(error: Error, stream?: Socket): Socket {
      this.firstError = error;
      const socket = stream ?? new Socket();
      socket.destroy();
      this.stream = socket;
      return socket;
    }

    async connect(): Promise<Socket> {
      this.connecting = true;
      const tls = Boolean(this.options.tls);
      let refusal = '';
      for (let attempt = 1; attempt <= attempts; attempt++) {
        let token: string;
        try {
          token = await auth.sign();
        } catch (error) {
          return this.closedWith(
            new Error(`could not sign an IAM auth token: ${(error as Error).message}`, { cause: error }),
          );
        }
        if (!this.connecting) throw new Error(CONNECTION_CLOSED);
        const options = socketOptions(this.options);
        const stream = tls ? tlsConnect(options) : netConnect(options);
        this.stream = stream;
        const outcome = await authenticate(
          stream,
          tls,
          auth.username,
          token,
          this.options.connectTimeout ?? 10_000,
        );
        if (outcome.kind === 'ok') {
          if (!this.connecting) {
            stream.destroy();
            throw new Error(CONNECTION_CLOSED);
          }
          return stream;
        }
        if (outcome.kind === 'failed') return this.closedWith(outcome.error, stream);
        stream.destroy();
        refusal = outcome.reply;
        if (!this.connecting) throw new Error(CONNECTION_CLOSED);
      }
      const where = this.options.path ?? `${this.options.host ?? '127.0.0.1'}:${this.options.port ?? 6379}`;
      this.connecting = false;
      throw new ConfigurationError(
        `Redis at ${where} refused IAM authentication of user "${auth.username}" (${refusal}) with ${attempts} ` +
          'freshly signed token(s): check the cache name, the region, that the user exists in IAM mode with ' +
          "user name = user id and is in the cache's user group, and that the role may elasticache:Connect / " +
          'memorydb:Connect. Retrying will not help.',
      );
    }
  };
}

/** Every connection of `client` that is open now: the client itself, or each node of a cluster. */
function liveConnections(client: RedisClient): Redis[] {
  const nodes = client instanceof Cluster ? client.nodes('all') : [client];
  return nodes.filter((node) => node.status === 'ready');
}

export interface IamReauthentication {
  /** Sends AUTH with a new token on every live connection now (what the timer does). */
  reauthenticate(): Promise<{ readonly ok: number; readonly failed: number }>;
  /** Stops the timer (also done when the client ends). */
  stop(): void;
}

const defaultTimers: IamTimers = {
  setInterval(callback, ms) {
    const handle = setInterval(callback, ms);
    handle.unref();
    return handle;
  },
  clearInterval(handle) {
    clearInterval(handle as NodeJS.Timeout);
  },
};

/**
 * Re-authenticates every live connection of `client` every `reauthenticateEveryMs`. A connection whose AUTH
 * fails is closed and reconnects (its connector signs a new token).
 */
export function startIamReauthentication(client: RedisClient, auth: IamAuthOptions): IamReauthentication {
  const timers = auth.timers ?? defaultTimers;
  const reauthenticate = async (): Promise<{ ok: number; failed: number }> => {
    const results = await Promise.all(
      liveConnections(client).map(async (node) => {
        try {
          await node.call('AUTH', auth.username, await auth.sign());
          return true;
        } catch {
          node.disconnect(true);
          return false;
        }
      }),
    );
    const ok = results.filter(Boolean).length;
    return { ok, failed: results.length - ok };
  };
  const handle = timers.setInterval(() => {
    reauthenticate().catch(() => undefined);
  }, auth.reauthenticateEveryMs ?? DEFAULT_REAUTHENTICATE_EVERY_MS);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    timers.clearInterval(handle);
  };
  client.once('end', stop);
  return { reauthenticate, stop };
}

export interface IamConnectOptions extends Omit<ConnectOptions, 'password' | 'username'>, IamAuthOptions {}

/** What `connectWithIam` returns: the client and its re-authentication timer. */
export interface IamConnection {
  readonly client: RedisClient;
  readonly reauthentication: IamReauthentication;
}

function requireUserAndTls(url: string, options: { username?: string; tls?: boolean }): void {
  if (!options.username) {
    throw new ConfigurationError(
      `IAM authentication needs the RBAC user (${ENV.redisUsername}, or --username): its user name, which for ElastiCache equals its user id`,
    );
  }
  if (!(options.tls || url.startsWith('rediss:'))) {
    throw new ConfigurationError(
      `IAM authentication needs TLS: use a rediss:// URL or ${ENV.redisTls}=true (ElastiCache and MemoryDB accept IAM tokens only over TLS)`,
    );
  }
}

/**
 * Opens a client (single node or cluster) that authenticates with IAM tokens. Requires TLS (`rediss://` or
 * `tls: true`) and a user name: ElastiCache and MemoryDB accept IAM authentication only over TLS.
 */
export function connectWithIam(url: string, options: IamConnectOptions): IamConnection {
  requireUserAndTls(url, options);
  const { username, sign, maxAuthAttempts, reauthenticateEveryMs, timers, ...rest } = options;
  const client = connect(url, {
    ...rest,
    redisOptions: {
      ...rest.redisOptions,
      Connector: iamConnector({ username, sign, ...(maxAuthAttempts ? { maxAuthAttempts } : {}) }),
      // The connector authenticates; ioredis must not send an AUTH of its own with a stale password.
      username: undefined,
      password: undefined,
    },
  });
  const reauthentication = startIamReauthentication(client, {
    username,
    sign,
    ...(reauthenticateEveryMs ? { reauthenticateEveryMs } : {}),
    ...(timers ? { timers } : {}),
  });
  return { client, reauthentication };
}

function flag(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/** True when the environment turns IAM authentication on (ENV.redisIamAuth). */
export function iamAuthEnabled(env: NodeJS.ProcessEnv): boolean {
  return flag(env[ENV.redisIamAuth]);
}

export interface IamEnvSettings {
  readonly cacheName: string;
  readonly service: IamAuthService;
  readonly serverless: boolean;
  readonly region: string;
}

/** Reads and checks the IAM settings of the environment (see ENV), for `connectFromEnv` and the CLI. */
export function readIamEnv(env: NodeJS.ProcessEnv, overrides: Partial<IamEnvSettings> = {}): IamEnvSettings {
  const cacheName = overrides.cacheName ?? env[ENV.redisIamCacheName];
  if (!cacheName) {
    throw new ConfigurationError(
      `${ENV.redisIamAuth} is on but ${ENV.redisIamCacheName} is not set: expected the replication group id, ` +
        'the serverless cache name or the MemoryDB cluster name (not the endpoint)',
    );
  }
  const service = overrides.service ?? (env[ENV.redisIamService] || 'elasticache');
  if (service !== 'elasticache' && service !== 'memorydb') {
    throw new ConfigurationError(
      `${ENV.redisIamService} is ${JSON.stringify(service)}: expected elasticache or memorydb`,
    );
  }
  const region = overrides.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION);
  if (!region) throw new ConfigurationError(`${ENV.redisIamAuth} is on but AWS_REGION is not set`);
  return {
    cacheName,
    service,
    serverless: overrides.serverless ?? flag(env[ENV.redisIamServerless]),
    region,
  };
}

/** The default credentials chain of the AWS SDK (Lambda role, environment, profile, IMDS...), loaded lazily. */
async function defaultCredentials(): Promise<AwsCredentialIdentityProvider> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}

/**
 * The `connectFromEnv` path when ENV.redisIamAuth is on: URL, TLS, cluster mode and RBAC user read as for
 * the password path (no secret), the token signed with the AWS SDK's default credentials chain.
 */
export async function connectWithIamFromEnv(
  url: string,
  env: NodeJS.ProcessEnv,
  overrides: Partial<IamEnvSettings> &
    Pick<ConnectOptions, 'cluster' | 'tls' | 'username' | 'redisOptions'> = {},
): Promise<RedisClient> {
  const { cacheName, service, serverless, region, ...connection } = overrides;
  const settings = readIamEnv(env, {
    ...(cacheName ? { cacheName } : {}),
    ...(service ? { service } : {}),
    ...(serverless !== undefined ? { serverless } : {}),
    ...(region ? { region } : {}),
  });
  const username = connection.username ?? (env[ENV.redisUsername] || '');
  const tls = connection.tls ?? flag(env[ENV.redisTls]);
  requireUserAndTls(url, { username, tls });
  const sign = iamAuthTokenSigner({
    cacheName: settings.cacheName,
    userId: username,
    region: settings.region,
    service: settings.service,
    serverless: settings.serverless,
    credentials: await defaultCredentials(),
  });
  return connectWithIam(url, {
    cluster: connection.cluster ?? flag(env[ENV.redisCluster]),
    tls,
    ...(connection.redisOptions ? { redisOptions: connection.redisOptions } : {}),
    username,
    sign,
  }).client;
}
