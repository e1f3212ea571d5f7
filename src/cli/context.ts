/**
 * What every command shares: the global flags (`--redis`, `--namespace`, `--shards`, `--cluster`,
 * `--json`), one fail-fast connection, and output that is either text for people or one JSON document.
 */
import type { Command } from 'commander';
import { DEFAULTS, ENV } from '../config/env.js';
import { Engine } from '../core/engine.js';
import { isValidNamespace } from '../core/keys.js';
import { ConfigurationError } from '../errors.js';
import { connect, type RedisClient } from '../redis/connection.js';
import { isStoreError } from '../redis/errors.js';
import { checkRedisUrl, probeRedis, redactUrl, resolveRedisUrl } from './connection.js';
import { CliError, EXIT, invalidOption } from './errors.js';
import { type IamCliSettings, type IamGlobalOptions, openIamClient, readIamCliSettings } from './iam.js';
import { parseInteger } from './parse.js';

/** Where output goes and what the environment is; `main.ts` passes the process's, tests may pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
}

export interface GlobalOptions extends IamGlobalOptions {
  readonly redis?: string;
  readonly namespace?: string;
  readonly shards?: string;
  readonly cluster?: boolean;
  readonly json?: boolean;
}

export interface ConnectionSettings {
  readonly url: string;
  readonly namespace: string;
  readonly shards: number;
  readonly cluster: boolean;
  readonly json: boolean;
  /** Set when IAM authentication is on (`--iam-auth`, src/cli/iam.ts). */
  readonly iam?: IamCliSettings;
}

function flag(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/** Reads and validates the global flags (before any connection is made). */
export function readSettings(options: GlobalOptions, env: NodeJS.ProcessEnv): ConnectionSettings {
  const namespace = options.namespace ?? (env[ENV.namespace] || DEFAULTS.namespace);
  if (!isValidNamespace(namespace)) {
    throw invalidOption('--namespace', namespace, 'letters, digits, "_", "." or "-", at most 64 characters');
  }
  const shardsText = options.shards ?? (env[ENV.shards] || '1');
  const target = resolveRedisUrl(options.redis, env);
  const invalid = checkRedisUrl(target);
  if (invalid) throw new CliError(invalid, EXIT.usage);
  const iam = readIamCliSettings(options, env);
  return {
    url: target.url,
    namespace,
    shards: parseInteger('--shards', shardsText, 1, 1024),
    cluster: options.cluster ?? flag(env[ENV.redisCluster]),
    json: options.json ?? false,
    ...(iam ? { iam } : {}),
  };
}

export class CliContext {
  readonly engine: Engine;
  readonly settings: ConnectionSettings;
  readonly io: CliIo;

  constructor(engine: Engine, settings: ConnectionSettings, io: CliIo) {
    this.engine = engine;
    this.settings = settings;
    this.io = io;
  }

  get json(): boolean {
    return this.settings.json;
  }

  now(): number {
    return this.io.now();
  }

  /** Prints `value` as one JSON document with --json, else `text()`. */
  emit(value: unknown, text: () => string): void {
    if (this.json) this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
    else this.io.stdout(`${text()}\n`);
  }

  /** Connects, failing within ~2 s with exit code 2 when nothing answers. */
  static async open(settings: ConnectionSettings, io: CliIo): Promise<CliContext> {
    if (settings.iam) {
      const redis = await openIamClient(
        settings.url,
        settings.cluster,
        settings.iam,
        io.env,
        redactUrl(settings.url),
      );
      return new CliContext(
        new Engine(redis, { namespace: settings.namespace, shards: settings.shards }),
        settings,
        io,
      );
    }
    const tls = flag(io.env[ENV.redisTls]);
    const username = io.env[ENV.redisUsername] || undefined;
    const shown = redactUrl(settings.url);
    const probe = await probeRedis(settings.url, {
      ...(tls ? { tls } : {}),
      ...(username ? { username } : {}),
    });
    if (!probe.ok) {
      if (probe.error instanceof ConfigurationError) {
        throw new CliError(probe.error.message, EXIT.configuration, { cause: probe.error });
      }
      const hint = /^(nothing listens|no TLS handshake|Redis at .* closed the connection)/.test(
        probe.error.message,
      )
        ? `: ${probe.error.message.replace(/^.*?\): /, '')}`
        : '';
      throw new CliError(`cannot reach Redis at ${shown}: ${probe.reason}${hint}`, EXIT.unreachable, {
        cause: probe.error,
      });
    }
    let redis: RedisClient = probe.client;
    if (settings.cluster) {
      probe.client.disconnect();
      redis = connect(settings.url, {
        cluster: true,
        ...(tls ? { tls } : {}),
        ...(username ? { username } : {}),
      });
    }
    return new CliContext(
      new Engine(redis, { namespace: settings.namespace, shards: settings.shards }),
      settings,
      io,
    );
  }

  async close(): Promise<void> {
    await this.engine.redis.quit().catch(() => this.engine.redis.disconnect());
  }
}

/** The global flags as seen from a subcommand. */
export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** Validates the flags, connects, runs `fn`, and always closes the connection. */
export async function withContext(
  command: Command,
  io: CliIo,
  fn: (context: CliContext) => Promise<void>,
): Promise<void> {
  const settings = readSettings(globalOptions(command), io.env);
  const context = await CliContext.open(settings, io);
  try {
    await fn(context);
  } catch (error) {
    if (isStoreError(error) || isStoreError((error as { cause?: unknown } | undefined)?.cause)) {
      throw new CliError(
        `Redis at ${redactUrl(settings.url)} failed: ${(error as Error).message}`,
        EXIT.unreachable,
        { cause: error },
      );
    }
    throw error;
  } finally {
    await context.close();
  }
}
