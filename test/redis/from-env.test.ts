/**
 * `Scheduler.fromEnv()` / `connectFromEnv()`: the connection shapes the Lambdas use, against real servers:
 * a cluster endpoint (ElastiCache Serverless is a TLS cluster-mode endpoint; here the local 3-master
 * cluster), and an auth token read from Secrets Manager at cold start (a real SDK client, mocked transport).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { ConfigurationError } from '../../src/errors.js';
import { connectFromEnv } from '../../src/redis/connection.js';
import { randomNamespace } from '../support/context.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';

describe('Scheduler.fromEnv', () => {
  it('connects as a cluster client when TICKSET_REDIS_CLUSTER=true and spreads shards over masters', async () => {
    // GIVEN the environment the CDK construct sets for a cluster-mode cache
    const [first] = inject('clusterUrls');
    const namespace = randomNamespace();
    const env = {
      TICKSET_REDIS_URL: first,
      TICKSET_REDIS_CLUSTER: 'true',
      TICKSET_NAMESPACE: namespace,
      TICKSET_SHARDS: '4',
      TICKSET_HANDLERS: 'send-reminder',
    };
    // WHEN a producer builds its scheduler from it
    const tasks = await Scheduler.fromEnv(env);
    try {
      // THEN it is a cluster client, knows the handlers, and every shard's script lands in one slot
      expect(tasks.engine.redis).toBeInstanceOf(Cluster);
      expect(tasks.engine.shards).toBe(4);
      const ids = await tasks.scheduleMany(
        Array.from({ length: 40 }, (_, i) => ({
          handler: 'send-reminder',
          payload: i,
          delayMs: 60_000,
          key: `k${i}`,
        })),
      );
      expect((await tasks.stats()).scheduled).toBe(40);
      expect((await tasks.get('k7'))?.id).toBe(ids[7]!.id);
      await expect(tasks.schedule({ handler: 'other', delayMs: 1 })).rejects.toMatchObject({
        name: 'TicksetUnknownHandlerError',
      });
    } finally {
      await tasks.close();
    }
  });

  it('fails with a ConfigurationError that names the variable when TICKSET_REDIS_URL is missing', async () => {
    await expect(connectFromEnv({})).rejects.toBeInstanceOf(ConfigurationError);
    await expect(connectFromEnv({})).rejects.toThrow(/TICKSET_REDIS_URL is not set/);
  });
});

describe('auth token from Secrets Manager', () => {
  let server: RedisServerHandle;
  const secretsManager = mockClient(SecretsManagerClient);
  beforeAll(async () => {
    server = await startRedisServer({
      args: ['--requirepass', 's3cret-token'],
      cliArgs: ['-a', 's3cret-token', '--no-auth-warning'],
    });
  });
  afterAll(async () => {
    secretsManager.restore();
    await server.stop();
  });

  it.each([
    ['a plain string', 's3cret-token'],
    ['JSON with a password field', JSON.stringify({ password: 's3cret-token' })],
  ])('reads the token stored as %s and authenticates', async (_kind, secretString) => {
    // GIVEN a secret holding the cache's auth token
    secretsManager.reset();
    secretsManager
      .on(GetSecretValueCommand, { SecretId: 'tickset/redis' })
      .resolves({ SecretString: secretString });
    // WHEN a Lambda connects from its environment
    const redis = await connectFromEnv({
      TICKSET_REDIS_URL: server.url,
      TICKSET_REDIS_AUTH_SECRET_ARN: 'tickset/redis',
    });
    try {
      // THEN the connection is authenticated
      expect(await redis.ping()).toBe('PONG');
      expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  });

  it('rejects a JSON secret without a password with a ConfigurationError', async () => {
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ user: 'x' }) });
    await expect(
      connectFromEnv({ TICKSET_REDIS_URL: server.url, TICKSET_REDIS_AUTH_SECRET_ARN: 'tickset/redis' }),
    ).rejects.toThrow(/without a "password" field/);
  });
});
