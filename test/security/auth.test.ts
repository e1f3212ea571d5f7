/**
 * Authentication against a private Redis: `requirepass` (auth token, as ElastiCache uses) and an ACL user
 * (RBAC, as TICKSET_REDIS_USERNAME selects), through `connect()` and `Scheduler` with credentials in the URL
 * or in the options. A wrong or missing password fails fast with Redis' own clear message (never a hang),
 * and the password never appears in an error.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { ConfigurationError } from '../../src/errors.js';
import { connect, type RedisClient } from '../../src/redis/connection.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';

const PASSWORD = 'default-pw-3f9c';
const USER = 'tickset-app';
const USER_PASSWORD = 'rbac-pw/with:odd@chars';

let server: RedisServerHandle;
const opened: RedisClient[] = [];

beforeAll(async () => {
  server = await startRedisServer({
    args: ['--requirepass', PASSWORD],
    cliArgs: ['-a', PASSWORD, '--no-auth-warning'],
  });
  const admin = new Redis({ port: server.port, password: PASSWORD });
  // An RBAC user limited to tickset's keys (namespace "app") and what tickset runs.
  await admin.call(
    'ACL',
    'SETUSER',
    USER,
    'on',
    `>${USER_PASSWORD}`,
    'resetkeys',
    '~{app}:*',
    '~{app:*}:*',
    '~tickset-idem:app#*',
    'resetchannels',
    '&{app}:*',
    '-@all',
    '+@read',
    '+@write',
    '+@scripting',
    '+@connection',
    '+publish',
    '+subscribe',
    '+info',
    '+acl|whoami',
  );
  await admin.quit();
});

afterAll(async () => {
  for (const client of opened) client.disconnect();
  await server.stop();
});

function track(client: RedisClient): RedisClient {
  client.on('error', () => undefined);
  opened.push(client);
  return client;
}

async function roundTrip(scheduler: Scheduler): Promise<void> {
  const { id } = await scheduler.schedule({ handler: 'work', delayMs: 60_000, payload: { ok: true } });
  expect((await scheduler.get(id))?.payload).toEqual({ ok: true });
  expect(await scheduler.cancel(id)).toBe(true);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(Error);
  return outcome as Error;
}

describe('AUTH', () => {
  it('requirepass: the password in the URL works through connect() and Scheduler', async () => {
    const url = `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}`;
    const scheduler = new Scheduler({ redis: track(connect(url)), namespace: 'app' });
    await roundTrip(scheduler);
  });

  it('requirepass: the password in the options works too', async () => {
    const client = track(connect(`redis://127.0.0.1:${server.port}`, { password: PASSWORD }));
    await roundTrip(new Scheduler({ redis: client, namespace: 'app' }));
  });

  it('an ACL user (user:password in the URL, URL-encoded) works, within its key patterns', async () => {
    const url = `redis://${USER}:${encodeURIComponent(USER_PASSWORD)}@127.0.0.1:${server.port}`;
    const client = track(connect(url));
    await roundTrip(new Scheduler({ redis: client, namespace: 'app' }));
    expect(await client.call('ACL', 'WHOAMI')).toBe(USER);
    // The same user cannot touch another namespace: RBAC scopes a handler fleet to its namespace.
    const other = new Scheduler({ redis: client, namespace: 'other' });
    const error = await failure(other.schedule({ handler: 'work', delayMs: 1 }));
    expect(error.message).toMatch(/NOPERM/);
  });

  it('an ACL user given as options.username / options.password works', async () => {
    const client = track(
      connect(`redis://127.0.0.1:${server.port}`, { username: USER, password: USER_PASSWORD }),
    );
    await roundTrip(new Scheduler({ redis: client, namespace: 'app' }));
  });

  it('a wrong password fails fast with a clear error that does not echo the password', async () => {
    const wrong = 'not-the-password-91ab';
    for (const url of [
      `redis://:${wrong}@127.0.0.1:${server.port}`,
      `redis://${USER}:${wrong}@127.0.0.1:${server.port}`,
      `redis://nobody:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}`,
    ]) {
      const scheduler = new Scheduler({ redis: track(connect(url)), namespace: 'app' });
      const error = await failure(scheduler.schedule({ handler: 'work', delayMs: 1 }));
      expect(error.message).toMatch(/WRONGPASS invalid username-password pair/);
      expect(error.message).not.toContain(wrong);
      expect(error.message).not.toContain(PASSWORD);
    }
  });

  it('no password at all fails fast with NOAUTH', async () => {
    const scheduler = new Scheduler({
      redis: track(connect(`redis://127.0.0.1:${server.port}`)),
      namespace: 'app',
    });
    const error = await failure(scheduler.stats());
    expect(error.message).toMatch(/NOAUTH Authentication required/);
  });

  it('a malformed URL is a ConfigurationError with the credentials masked', () => {
    let error: unknown;
    try {
      connect(`redis://${USER}:${PASSWORD}@[not-a-host`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('***@');
    expect((error as Error).message).not.toContain(PASSWORD);
  });
});
