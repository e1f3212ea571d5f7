/**
 * TLS in transit: a private redis-server with TLS only (`--port 0`), a CA and a server certificate made
 * here with openssl, and `rediss://` through `connect()` and `Scheduler`, the CA passed as
 * `connect(url, { redisOptions: { tls: { ca } } })`. A client that does not trust the CA never talks to the
 * server in clear: its commands fail once the time-out the caller sets is up (ioredis retries TLS errors).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { connect, type RedisClient } from '../../src/redis/connection.js';
import { freePort, type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';

let certs: TestCertificates;
let server: RedisServerHandle;
let ca: string;
const opened: RedisClient[] = [];

beforeAll(async () => {
  certs = makeTestCertificates();
  ca = certs.ca;
  const port = await freePort();
  server = await startRedisServer({
    port,
    args: ['--port', '0', ...certs.tlsArgs(port)],
    cliArgs: ['--tls', '--cacert', certs.caPath],
  });
});

afterAll(async () => {
  for (const client of opened) client.disconnect();
  await server?.stop();
  certs?.remove();
});

function track(client: RedisClient): RedisClient {
  client.on('error', () => undefined);
  opened.push(client);
  return client;
}

describe('TLS', () => {
  it('rediss:// with the CA passed through redisOptions.tls works (IP address in the SAN)', async () => {
    const client = track(connect(`rediss://127.0.0.1:${server.port}`, { redisOptions: { tls: { ca } } }));
    const scheduler = new Scheduler({ redis: client, namespace: 'tls' });
    const { id } = await scheduler.schedule({ handler: 'work', delayMs: 1_000, payload: 'over TLS' });
    expect((await scheduler.get(id))?.payload).toBe('over TLS');
  });

  it('Scheduler with a URL and connection options, by host name (servername checked against the SAN)', async () => {
    const scheduler = new Scheduler({
      redis: `rediss://localhost:${server.port}`,
      connection: { redisOptions: { tls: { ca, servername: 'localhost' } } },
      namespace: 'tls',
    });
    try {
      const { id } = await scheduler.schedule({ handler: 'work', delayMs: 1_000 });
      expect((await scheduler.get(id))?.state).toBe('scheduled');
    } finally {
      await scheduler.close();
    }
  });

  it('a client that does not trust the CA gets no answer (the certificate is rejected)', async () => {
    const client = track(
      connect(`rediss://127.0.0.1:${server.port}`, { redisOptions: { maxRetriesPerRequest: 1 } }),
    );
    const errors: string[] = [];
    client.on('error', (error: Error) => errors.push(error.message));
    const outcome = await client.ping().then(
      () => 'answered',
      (error: Error) => error.message,
    );
    expect(outcome).not.toBe('answered');
    expect(errors.join('\n')).toMatch(/self[- ]signed certificate|unable to verify|certificate/i);
  });

  it('a plain redis:// client cannot use the TLS port', async () => {
    const client = track(
      connect(`redis://127.0.0.1:${server.port}`, {
        redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1_000 },
      }),
    );
    const outcome = await client.ping().then(
      () => 'answered',
      () => 'failed',
    );
    expect(outcome).toBe('failed');
  });
});
