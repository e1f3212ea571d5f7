/**
 * Each way a connection fails gets its own message and exit code in the CLI, and its own typed error (cause
 * kept) in the library, against real local listeners: an HTTP server (not Redis), a plain redis-server
 * reached with rediss:// and a TLS-only one reached with redis:// (TLS on one side only), a redis-server with
 * requirepass (authentication), a closed port (nothing listening), and a `.invalid` name (never resolves).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import {
  AuthenticationError,
  ConfigurationError,
  HostNotFoundError,
  NotRedisError,
  StoreUnavailableError,
} from '../../src/errors.js';
import { oneLineError, runInProcess } from '../cli/run.js';
import { freePort, type RedisServerHandle, startRedisServer } from '../support/redis-server.js';

let http: Server;
let httpPort: number;
let plain: RedisServerHandle;
let auth: RedisServerHandle;
let tls: RedisServerHandle;
let certDir: string;
let closedPort: number;

beforeAll(async () => {
  http = createServer((_, response) => response.end('<html></html>'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpPort = (http.address() as AddressInfo).port;
  plain = await startRedisServer();
  auth = await startRedisServer({
    args: ['--requirepass', 'right'],
    cliArgs: ['-a', 'right', '--no-auth-warning'],
  });
  certDir = mkdtempSync(join(tmpdir(), 'tickset-conn-tls-'));
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=localhost'],
    ],
    { cwd: certDir, stdio: 'ignore' },
  );
  const tlsPort = await freePort();
  tls = await startRedisServer({
    port: tlsPort,
    args: [
      '--port',
      '0',
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      join(certDir, 'cert.pem'),
      '--tls-key-file',
      join(certDir, 'key.pem'),
      '--tls-auth-clients',
      'no',
    ],
    cliArgs: ['--tls', '--insecure'],
  });
  closedPort = await freePort();
});

afterAll(async () => {
  await new Promise((resolve) => http.close(resolve));
  await Promise.all([plain?.stop(), auth?.stop(), tls?.stop()]);
  rmSync(certDir, { recursive: true, force: true });
});

/** The library's view: a Scheduler on that URL, failing after one reconnect instead of twenty. */
async function libraryError(url: string): Promise<unknown> {
  const scheduler = new Scheduler({
    redis: url,
    namespace: 'conn',
    connection: { redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 } },
  });
  try {
    await scheduler.stats();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await scheduler.close().catch(() => undefined);
  }
}

describe('connection failures', () => {
  it('not Redis on that port: NotRedisError, exit 3', async () => {
    const url = `redis://127.0.0.1:${httpPort}`;
    const cli = await runInProcess(['--redis', url, 'status']);
    expect(cli.code).toBe(3);
    expect(oneLineError(cli)).toBe(
      `tickset: ${url} does not speak the Redis protocol (its reply began with "H", like an HTTP server): ` +
        'check the host and port.',
    );
    const error = await libraryError(url);
    expect(error).toBeInstanceOf(NotRedisError);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('authentication failed: AuthenticationError, exit 3, password never shown', async () => {
    for (const url of [`redis://:wrong@127.0.0.1:${auth.port}`, `redis://127.0.0.1:${auth.port}`]) {
      const cli = await runInProcess(['--redis', url, 'status']);
      expect(cli.code).toBe(3);
      expect(oneLineError(cli)).toMatch(
        /^tickset: Redis at redis:\/\/.*refused this client \((WRONGPASS|NOAUTH)/,
      );
      expect(cli.stderr).not.toContain('wrong');
      const error = await libraryError(url);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
  });

  it('nothing listening: exit 2 and StoreUnavailableError', async () => {
    const url = `redis://127.0.0.1:${closedPort}`;
    const cli = await runInProcess(['--redis', url, 'status']);
    expect(cli.code).toBe(2);
    expect(oneLineError(cli)).toBe(
      `tickset: cannot reach Redis at ${url}: connect ECONNREFUSED 127.0.0.1:${closedPort}: start Redis there or fix the port`,
    );
    const error = await libraryError(url);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/^nothing listens at 127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);
  });

  it('a host name that does not resolve: HostNotFoundError, exit 3', async () => {
    const url = 'redis://no-such-host.invalid:6379';
    const cli = await runInProcess(['--redis', url, 'status']);
    expect(cli.code).toBe(3);
    expect(oneLineError(cli)).toMatch(
      /^tickset: the host name of redis:\/\/no-such-host\.invalid:6379 does not resolve \(getaddrinfo ENOTFOUND/,
    );
    const error = await libraryError(url);
    expect(error).toBeInstanceOf(HostNotFoundError);
  });

  it('rediss:// against a plain Redis: exit 2 with the TLS hint, and no DEP0123 warning for an IP', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const url = `rediss://127.0.0.1:${plain.port}`;
      const cli = await runInProcess(['--redis', url, 'status']);
      expect(cli.code).toBe(2);
      expect(oneLineError(cli)).toMatch(
        /^tickset: cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+: .*: if this Redis does not use TLS, use redis:\/\/ instead of rediss:\/\//,
      );
      const error = await libraryError(url);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(
        /^no TLS handshake with 127\.0\.0\.1:\d+ .*use redis:\/\/ instead/,
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => (w as { code?: string }).code)).not.toContain('DEP0123');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('redis:// against a TLS-only Redis: exit 2 with the TLS hint', async () => {
    const url = `redis://127.0.0.1:${tls.port}`;
    const cli = await runInProcess(['--redis', url, 'status']);
    expect(cli.code).toBe(2);
    expect(oneLineError(cli)).toMatch(
      /^tickset: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: .*: if it expects TLS, use rediss:\/\/ or set TICKSET_REDIS_TLS=true$/,
    );
    const error = await libraryError(url);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/closed the connection .*: if it expects TLS, use rediss:\/\//);
  });
});
