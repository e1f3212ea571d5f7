/**
 * IAM authentication for operators: `--iam-auth` (or TICKSET_REDIS_IAM_AUTH=true) connects with tokens
 * signed from the operator's AWS credentials (the SDK's default chain: profile, SSO, environment...) instead
 * of a password, through the same connector as the Lambdas (src/redis/iam-auth.ts). The user is
 * TICKSET_REDIS_USERNAME or `--iam-user`, the region AWS_REGION or `--iam-region`.
 */
import type { Command } from 'commander';
import { ENV } from '../config/env.js';
import { ConfigurationError } from '../errors.js';
import type { RedisClient } from '../redis/connection.js';
import type { IamAuthService } from '../redis/iam-token.js';
import { CliError, EXIT, invalidOption } from './errors.js';

export interface IamGlobalOptions {
  readonly iamAuth?: boolean;
  readonly iamCacheName?: string;
  readonly iamServerless?: boolean;
  readonly iamService?: string;
  readonly iamUser?: string;
  readonly iamRegion?: string;
}

/** What `--iam-*` and the environment say, when IAM authentication is on. */
export interface IamCliSettings {
  readonly cacheName?: string;
  readonly serverless?: boolean;
  readonly service?: IamAuthService;
  readonly username?: string;
  readonly region?: string;
}

/** Adds the IAM flags to the program's global options. */
export function addIamOptions(program: Command): Command {
  return program
    .option('--iam-auth', `authenticate with IAM tokens instead of a password (default: ${ENV.redisIamAuth})`)
    .option(
      '--iam-cache-name <name>',
      `replication group id, serverless cache or MemoryDB cluster name (default: ${ENV.redisIamCacheName})`,
    )
    .option('--iam-serverless', `the cache is ElastiCache Serverless (default: ${ENV.redisIamServerless})`)
    .option(
      '--iam-service <service>',
      `elasticache or memorydb (default: ${ENV.redisIamService} or elasticache)`,
    )
    .option('--iam-user <user>', `RBAC user in IAM mode (default: ${ENV.redisUsername})`)
    .option('--iam-region <region>', 'AWS region of the cache (default: AWS_REGION)');
}

function flag(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/** The IAM settings when `--iam-auth` or TICKSET_REDIS_IAM_AUTH turns IAM on, else undefined. */
export function readIamCliSettings(
  options: IamGlobalOptions,
  env: NodeJS.ProcessEnv,
): IamCliSettings | undefined {
  if (!(options.iamAuth ?? flag(env[ENV.redisIamAuth]))) return undefined;
  const service = options.iamService;
  if (service !== undefined && service !== 'elasticache' && service !== 'memorydb') {
    throw invalidOption('--iam-service', service, 'elasticache or memorydb');
  }
  return {
    ...(options.iamCacheName ? { cacheName: options.iamCacheName } : {}),
    ...(options.iamServerless ? { serverless: true } : {}),
    ...(service ? { service } : {}),
    ...(options.iamUser ? { username: options.iamUser } : {}),
    ...(options.iamRegion ? { region: options.iamRegion } : {}),
  };
}

/**
 * Opens an IAM-authenticated client for a command: no background retries, and a PING within `timeoutMs`,
 * so a wrong endpoint or refused token fails within seconds (exit code 2), as the password path does.
 */
export async function openIamClient(
  url: string,
  cluster: boolean,
  iam: IamCliSettings,
  env: NodeJS.ProcessEnv,
  shownUrl: string,
  timeoutMs = 5_000,
): Promise<RedisClient> {
  const { connectWithIamFromEnv } = await import('../redis/iam-auth.js');
  let client: RedisClient;
  try {
    client = await connectWithIamFromEnv(url, env, {
      ...iam,
      cluster,
      ...(iam.username ? { username: iam.username } : {}),
      redisOptions: {
        connectTimeout: timeoutMs,
        commandTimeout: 10_000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      },
    });
  } catch (error) {
    if (error instanceof ConfigurationError) throw new CliError(error.message, EXIT.usage, { cause: error });
    throw error;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs + 250);
      }),
    ]);
    return client;
  } catch (error) {
    client.disconnect();
    throw new CliError(
      `cannot reach Redis at ${shownUrl} with IAM authentication: ${(error as Error).message}`,
      EXIT.unreachable,
      {
        cause: error,
      },
    );
  } finally {
    clearTimeout(timer);
  }
}
