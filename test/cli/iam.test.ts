/**
 * The CLI's `--iam-auth`: the flags and their errors (in process), and a real `tickset status` as a child
 * process over TLS, signing with AWS credentials from its environment, against a redis-server where only
 * the IAM user can get in (the default user is off). The operator's clock is the real one, so the token
 * cannot be the user's password here: the user is `nopass` and the test checks that the CLI's connection
 * authenticated as it (test/redis/iam-auth.test.ts checks the tokens themselves).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../src/config/env.js';
import { freePort, type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';
import { runCli, runInProcess } from './run.js';

const USER = 'ops-iam';
let certs: TestCertificates;
let server: RedisServerHandle;
let tlsPort: number;
let admin: Redis;

beforeAll(async () => {
  certs = makeTestCertificates();
  writeFileSync(join(certs.dir, 'ca.pem'), certs.ca);
  tlsPort = await freePort();
  server = await startRedisServer({ args: certs.tlsArgs(tlsPort) });
  admin = new Redis({ port: server.port });
  await admin.call('ACL', 'SETUSER', 'admin', 'on', '>admin-pw', '~*', '&*', '+@all');
  await admin.auth('admin', 'admin-pw');
  await admin.call('ACL', 'SETUSER', USER, 'on', 'nopass', '~*', '&*', '+@all');
  await admin.call('ACL', 'SETUSER', 'default', 'off');
}, 30_000);

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
  certs?.remove();
});

describe('tickset --iam-auth', () => {
  it('says what is missing: the cache name, the user, the region, TLS; and rejects an unknown service', async () => {
    const url = `rediss://127.0.0.1:${tlsPort}`;
    const noName = await runInProcess(['--redis', url, '--iam-auth', 'status'], { AWS_REGION: 'us-east-1' });
    expect(noName.code).toBe(1);
    expect(noName.stderr).toContain(`${ENV.redisIamCacheName} is not set`);
    const noUser = await runInProcess(['--redis', url, '--iam-auth', '--iam-cache-name', 'c', 'status'], {
      AWS_REGION: 'us-east-1',
    });
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toContain('needs the RBAC user');
    const noRegion = await runInProcess([
      '--redis',
      url,
      '--iam-auth',
      '--iam-cache-name',
      'c',
      '--iam-user',
      USER,
      'status',
    ]);
    expect(noRegion.code).toBe(1);
    expect(noRegion.stderr).toContain('AWS_REGION is not set');
    const plain = await runInProcess(
      [
        '--redis',
        `redis://127.0.0.1:${server.port}`,
        '--iam-auth',
        '--iam-cache-name',
        'c',
        '--iam-user',
        USER,
        'status',
      ],
      { AWS_REGION: 'us-east-1' },
    );
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('needs TLS');
    const service = await runInProcess(['--redis', url, '--iam-auth', '--iam-service', 'dynamodb', 'status']);
    expect(service.code).toBe(1);
    expect(service.stderr).toContain('--iam-service');
  });

  it('connects with an IAM token signed from the environment credentials (TICKSET_REDIS_IAM_* variables)', async () => {
    await admin.call('ACL', 'LOG', 'RESET');
    const result = await runCli(['--json', 'status'], {
      env: {
        [ENV.redisUrl]: `rediss://127.0.0.1:${tlsPort}`,
        [ENV.redisIamAuth]: 'true',
        [ENV.redisIamCacheName]: 'tickset-cache',
        [ENV.redisUsername]: USER,
        [ENV.namespace]: 'iamcli',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret-example',
        NODE_EXTRA_CA_CERTS: join(certs.dir, 'ca.pem'),
      },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"namespace"');
    // The default user is off: nothing but an AUTH as the IAM user gets a command through.
    expect(await admin.call('ACL', 'LOG')).toEqual([]);
  });
});
