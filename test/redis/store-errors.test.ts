/**
 * Redis failures reach callers as typed errors that name the endpoint and say whether retrying helps, in
 * bounded time, and without ioredis printing every failed reconnect to stderr.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { ConfigurationError, StoreUnavailableError } from '../../src/errors.js';
import { connect, DEFAULT_RETRIES_PER_COMMAND } from '../../src/redis/connection.js';
import { isStoreError, toStoreError } from '../../src/redis/errors.js';
import { freePort, type RedisServerHandle, startRedisServer } from '../support/redis-server.js';

/** A scheduler pointed at a port nobody listens on, giving up without reconnecting. */
async function unreachableScheduler(): Promise<Scheduler> {
  const port = await freePort();
  return new Scheduler({
    redis: `redis://127.0.0.1:${port}`,
    connection: { redisOptions: { maxRetriesPerRequest: 0 } },
  });
}

describe('Redis failures at the Scheduler boundary', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer({
      args: ['--requirepass', 'right-token'],
      cliArgs: ['-a', 'right-token', '--no-auth-warning'],
    });
  });
  afterAll(async () => {
    await server.stop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('nothing listening: schedule() rejects with a retryable StoreUnavailableError naming host, port and cause', async () => {
    // GIVEN a port nobody listens on, and a client that gives up after one reconnect
    const port = await freePort();
    const printed = vi.spyOn(console, 'error');
    const tasks = new Scheduler({
      redis: `redis://127.0.0.1:${port}`,
      connection: { redisOptions: { maxRetriesPerRequest: 1 } },
    });
    try {
      // WHEN a job is scheduled
      const error = await tasks.schedule({ handler: 'h', delayMs: 1000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      // THEN the error is typed, retryable, and says where and why
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error).toMatchObject({ name: 'TicksetStoreUnavailableError', retryable: true });
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
      expect((error as Error).message).toMatch(/Retrying may help/);
      // AND ioredis did not print its "Unhandled error event" lines
      expect(printed.mock.calls.flat().join('\n')).not.toMatch(/Unhandled error event/);
    } finally {
      await tasks.close();
    }
  });

  it('every read API maps the failure too (get, cancel, stats, scheduleMany)', async () => {
    const tasks = await unreachableScheduler();
    try {
      for (const call of [
        () => tasks.get('some-key'),
        () => tasks.cancel('some-key'),
        () => tasks.stats(),
        () => tasks.scheduleMany([{ handler: 'h', delayMs: 5 }]),
      ]) {
        await expect(call()).rejects.toBeInstanceOf(StoreUnavailableError);
      }
    } finally {
      await tasks.close();
    }
  });

  it('a wrong password is a ConfigurationError (retrying will not help) that never shows the password', async () => {
    const url = new URL(server.url);
    url.password = 'wrong-token';
    const tasks = new Scheduler({ redis: url.toString() });
    try {
      const error = await tasks.schedule({ handler: 'h', delayMs: 1000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ retryable: false });
      expect((error as Error).message).toMatch(/WRONGPASS|NOAUTH/);
      expect((error as Error).message).toMatch(/Retrying will not help/);
      expect((error as Error).message).not.toContain('wrong-token');
    } finally {
      await tasks.close();
    }
  });

  it('bad input is still a ValidationError, not a store error, even when Redis is down', async () => {
    const tasks = await unreachableScheduler();
    try {
      await expect(tasks.schedule({ handler: '', delayMs: 1 })).rejects.toMatchObject({
        name: 'TicksetValidationError',
      });
    } finally {
      await tasks.close();
    }
  });
});

/** A single-node client (what `connect` returns without `cluster`), to read its options. */
function single(url: string): Redis {
  return connect(url, { redisOptions: { lazyConnect: true } }) as Redis;
}

describe('connect() options', () => {
  it('commands wait through a bounded number of reconnects, not for ever', () => {
    const client = single('redis://127.0.0.1:6390');
    expect(client.options.maxRetriesPerRequest).toBe(DEFAULT_RETRIES_PER_COMMAND);
    client.disconnect();
  });

  it('TLS to an IP address sets no SNI servername (RFC 6066, Node DEP0123); a host name keeps it', () => {
    const byIp = single('rediss://127.0.0.1:6390');
    const byName = single('rediss://cache.example.internal:6390');
    expect(byIp.options.tls).toEqual({});
    expect(byName.options.tls).toEqual({ servername: 'cache.example.internal' });
    byIp.disconnect();
    byName.disconnect();
  });

  it('an IPv6 literal URL connects to the bare address', () => {
    const client = single('rediss://[::1]:6390');
    expect(client.options.host).toBe('::1');
    expect(client.options.tls).toEqual({});
    client.disconnect();
  });
});

describe('toStoreError', () => {
  it('leaves other errors alone and classifies busy replies as retryable', () => {
    const bug = new TypeError('x is not a function');
    expect(toStoreError(bug, 'h:1')).toBe(bug);
    expect(isStoreError(bug)).toBe(false);
    const loading = toStoreError(new Error('LOADING Redis is loading the dataset in memory'), 'h:1');
    expect(loading).toBeInstanceOf(StoreUnavailableError);
    expect((loading as Error).message).toContain('LOADING');
  });
});
