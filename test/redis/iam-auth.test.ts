/**
 * IAM authentication on a real redis-server (TLS): an ACL user whose password is the token the signer
 * makes, so the server accepts exactly the token expected at each step. The signer's clock is injected and
 * moves 1 s per token, so the test knows the k-th token the client will sign (`tokenAt(k)`) and sets it as
 * the user's password (ACL SETUSER ... resetpass >token) before the step that must use it.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../src/config/env.js';
import { ConfigurationError } from '../../src/errors.js';
import { connectFromEnv, type RedisClient } from '../../src/redis/connection.js';
import {
  connectWithIam,
  DEFAULT_REAUTHENTICATE_EVERY_MS,
  type IamTimers,
  iamConnector,
} from '../../src/redis/iam-auth.js';
import { iamAuthTokenSigner } from '../../src/redis/iam-token.js';
import {
  freePort,
  type RedisClusterHandle,
  type RedisServerHandle,
  startRedisCluster,
  startRedisServer,
} from '../support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';

const USER = 'tickset-iam';
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const SIGNING = {
  cacheName: 'tickset-cache',
  userId: USER,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-example' },
};

/** The k-th token (k = 1, 2, ...) of a signer whose clock starts at T0 and moves 1 s per token. */
function tokenAt(k: number): Promise<string> {
  return iamAuthTokenSigner({ ...SIGNING, clock: () => T0 + k * 1000 })();
}

/** A signer whose clock moves 1 s per token, counting its tokens. */
function steppingSigner(): { sign: () => Promise<string>; count: () => number } {
  let k = 0;
  const sign = iamAuthTokenSigner({ ...SIGNING, clock: () => T0 + ++k * 1000 });
  return { sign, count: () => k };
}

/** Timers that never fire by themselves: the test reads what was asked. */
function fakeTimers(): IamTimers & { intervals: Array<{ ms: number; callback: () => void }> } {
  const intervals: Array<{ ms: number; callback: () => void }> = [];
  return {
    intervals,
    setInterval(callback, ms) {
      intervals.push({ ms, callback });
      return intervals.length;
    },
    clearInterval() {},
  };
}

let certs: TestCertificates;
let server: RedisServerHandle;
let tlsPort: number;
let admin: Redis;
const opened: RedisClient[] = [];

async function setPassword(node: Redis, password: string): Promise<void> {
  await node.call('ACL', 'SETUSER', USER, 'on', 'resetpass', `>${password}`, '~*', '&*', '+@all');
}

function track<T extends RedisClient>(client: T): T {
  client.on('error', () => undefined);
  opened.push(client);
  return client;
}

beforeAll(async () => {
  certs = makeTestCertificates();
  tlsPort = await freePort();
  server = await startRedisServer({ args: certs.tlsArgs(tlsPort) });
  admin = new Redis({ port: server.port });
});

afterAll(async () => {
  for (const client of opened) client.disconnect();
  admin?.disconnect();
  await server?.stop();
  certs?.remove();
});

function open(sign: () => Promise<string>, timers: IamTimers = fakeTimers()) {
  const connection = connectWithIam(`rediss://127.0.0.1:${tlsPort}`, {
    username: USER,
    sign,
    timers,
    redisOptions: { tls: { ca: certs.ca } },
  });
  track(connection.client);
  return connection;
}

describe('IAM authentication (TLS, ACL user whose password is the token)', () => {
  it('connects with a fresh token, re-authenticates on the timer with a new one, and reconnects with a new one', async () => {
    const signer = steppingSigner();
    await setPassword(admin, await tokenAt(1));
    const timers = fakeTimers();
    const { client, reauthentication } = open(signer.sign, timers);
    const redis = client as Redis;
    expect(await redis.ping()).toBe('PONG');
    const firstId = await redis.client('ID');
    expect(signer.count()).toBe(1);

    // The timer: one interval, under the 12 h after which the server drops IAM connections.
    expect(timers.intervals.map((i) => i.ms)).toEqual([DEFAULT_REAUTHENTICATE_EVERY_MS]);
    expect(DEFAULT_REAUTHENTICATE_EVERY_MS).toBeLessThan(12 * 60 * 60 * 1000);

    // Re-authentication: only token 2 is accepted now; the same connection authenticates with it.
    await setPassword(admin, await tokenAt(2));
    expect(await reauthentication.reauthenticate()).toEqual({ ok: 1, failed: 0 });
    expect(signer.count()).toBe(2);
    expect(await redis.client('ID')).toBe(firstId);

    // The server kills the connection: the reconnection signs token 3, the only one accepted now.
    await setPassword(admin, await tokenAt(3));
    await admin.client('KILL', 'ID', String(firstId));
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.client('ID')).not.toBe(firstId);
    expect(signer.count()).toBe(3);
    expect(await redis.acl('WHOAMI')).toBe(USER);
  });

  it('a refused re-authentication closes the connection, which reconnects with a fresh token', async () => {
    const signer = steppingSigner();
    await setPassword(admin, await tokenAt(1));
    const { client, reauthentication } = open(signer.sign);
    const redis = client as Redis;
    const firstId = await redis.client('ID');
    // Token 2 (the re-authentication's) is refused; token 3 (the reconnection's) is accepted.
    await setPassword(admin, await tokenAt(3));
    expect(await reauthentication.reauthenticate()).toEqual({ ok: 0, failed: 1 });
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.client('ID')).not.toBe(firstId);
    expect(signer.count()).toBe(3);
  });

  it('WRONGPASS for a stale token: the connection retries with a freshly signed one instead of failing', async () => {
    const signer = steppingSigner();
    await admin.call('ACL', 'LOG', 'RESET');
    // Token 1 is refused (as a stale token would be); token 2 is accepted.
    await setPassword(admin, await tokenAt(2));
    const { client } = open(signer.sign);
    expect(await (client as Redis).ping()).toBe('PONG');
    expect(signer.count()).toBe(2);
    const log = (await admin.call('ACL', 'LOG')) as unknown[][];
    expect(log.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(log[0])).toContain('auth');
  });

  it('WRONGPASS with fresh tokens too is a configuration error, not endless retries', async () => {
    const signer = steppingSigner();
    await setPassword(admin, 'not-a-token-the-client-will-sign');
    const { client } = open(signer.sign);
    const error = await (client as Redis).ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/refused IAM authentication of user "tickset-iam" \(WRONGPASS/);
    expect((error as Error).message).not.toContain('X-Amz-Signature');
    expect(signer.count()).toBe(2);
    const deadline = Date.now() + 10_000;
    while ((client as Redis).status !== 'end' && Date.now() < deadline) {
      await new Promise((resolve) => client.once('end', resolve));
    }
    expect((client as Redis).status).toBe('end');
  });

  it('needs TLS and a user name; the environment path needs the cache name and the region', async () => {
    const sign = async () => 'unused';
    expect(() => connectWithIam(`redis://127.0.0.1:${server.port}`, { username: USER, sign })).toThrow(
      /IAM authentication needs TLS/,
    );
    expect(() => connectWithIam(`rediss://127.0.0.1:${tlsPort}`, { username: '', sign })).toThrow(
      ConfigurationError,
    );
    const base = { [ENV.redisUrl]: `rediss://127.0.0.1:${tlsPort}`, [ENV.redisIamAuth]: 'true' };
    await expect(
      connectFromEnv({ ...base, [ENV.redisUsername]: USER, AWS_REGION: 'us-east-1' }),
    ).rejects.toThrow(new RegExp(`${ENV.redisIamCacheName} is not set`));
    await expect(
      connectFromEnv({ ...base, [ENV.redisUsername]: USER, [ENV.redisIamCacheName]: 'c', AWS_REGION: '' }),
    ).rejects.toThrow(/AWS_REGION is not set/);
    await expect(
      connectFromEnv({ ...base, [ENV.redisIamCacheName]: 'c', AWS_REGION: 'us-east-1' }),
    ).rejects.toThrow(/needs the RBAC user/);
    await expect(
      connectFromEnv({
        ...base,
        [ENV.redisUrl]: `redis://127.0.0.1:${server.port}`,
        [ENV.redisUsername]: USER,
        [ENV.redisIamCacheName]: 'c',
        AWS_REGION: 'us-east-1',
      }),
    ).rejects.toThrow(ConfigurationError);
  });
});

describe('IAM authentication on a cluster', () => {
  let cluster: RedisClusterHandle;
  const admins: Redis[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    for (const node of cluster.nodes) {
      const a = new Redis({ port: node.port });
      await a.call('ACL', 'SETUSER', 'admin', 'on', '>admin-pw', '~*', '&*', '+@all');
      await a.auth('admin', 'admin-pw');
      // No one gets in without AUTH: a node connection that skipped the connector's AUTH would get NOAUTH.
      await a.call('ACL', 'SETUSER', 'default', 'off');
      admins.push(a);
    }
  }, 60_000);

  afterAll(async () => {
    for (const a of admins) a.disconnect();
    await cluster?.stop();
  });

  it('every node connection authenticates with its own signed token', async () => {
    // A fixed clock: every connection's token is the same string, which every node accepts.
    let signed = 0;
    const fixed = iamAuthTokenSigner({ ...SIGNING, clock: () => T0 });
    const sign = async () => {
      signed++;
      return fixed();
    };
    const token = await fixed();
    for (const a of admins) await setPassword(a, token);
    // The connector without connectWithIam: the cluster nodes here speak plain TCP.
    const client = track(
      new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }], {
        redisOptions: { Connector: iamConnector({ username: USER, sign }) },
      }),
    );
    for (let i = 0; i < 30; i++) await client.set(`k${i}`, String(i));
    const masters = client.nodes('master');
    expect(masters).toHaveLength(3);
    const holding = await Promise.all(masters.map((m) => m.dbsize()));
    expect(holding.every((n) => n > 0)).toBe(true);
    // One token per node connection at least (the first slots refresh opens one more).
    expect(signed).toBeGreaterThanOrEqual(3);
    for (const m of masters) expect(await m.acl('WHOAMI')).toBe(USER);
  });
});
