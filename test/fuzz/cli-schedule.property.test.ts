/**
 * `tickset schedule` fuzzed through a real child process (a modest number of runs: each starts Node).
 * Every run either exits 0 with one JSON document whose job round-trips (payload equal to `--payload`), or
 * exits 1 with exactly one `tickset: …` line on stderr, no stack trace, and the namespace unchanged.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/client/scheduler.js';
import { newClient, randomNamespace, redisUrl, snapshotNamespace } from '../support/context.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let redis: Redis;
beforeAll(() => {
  redis = newClient();
});
afterAll(async () => {
  await redis.quit();
});

function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=tickset-source', '--import', 'tsx', MAIN, ...args],
      {
        cwd: ROOT,
        timeout: 30_000,
        env: { ...process.env, TICKSET_REDIS_URL: '', REDIS_URL: '', TICKSET_DEBUG: '' },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const flagValue = {
  handler: fc.constantFrom('send-reminder', 'h', '', 'has space', '../x', 'A'.repeat(65), '-x', '--json'),
  timing: fc.oneof(
    fc
      .constantFrom('30s', '1h30m', '250ms', '0s', '-5s', 'abc', '1e309ms', '99999999999999999w', '5', ' 5m ')
      .map((v) => ['--in', v]),
    fc
      .constantFrom(
        '2026-12-01T09:00:00Z',
        '1796115600000',
        '0',
        '8640000000000001',
        'yesterday',
        '2026-13-01',
        '+275760-09-13T00:00:00Z',
        '1970-01-01',
      )
      .map((v) => ['--at', v]),
    fc
      .constantFrom('*/5 * * * * *', '0 9 * * 1', '0 0 31 2 *', '61 * * * *', '@reboot', '* * *')
      .chain((c) =>
        fc
          .option(fc.constantFrom('Europe/Berlin', 'Mars/Olympus', 'UTC', ''), { nil: undefined })
          .map((tz) => (tz === undefined ? ['--cron', c] : ['--cron', c, '--tz', tz])),
      ),
    fc.constantFrom('100ms', '99ms', '5m', 'x').map((v) => ['--every', v]),
    fc.constant(['--in', '5m', '--at', '0']),
    fc.constant([] as string[]),
  ),
  payload: fc.option(
    fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom(
        '{',
        'NaN',
        '{"__proto__":{"polluted":1}}',
        '"\\ud800"',
        '-0',
        '1e999',
        'undefined',
        '',
      ),
    ),
    { nil: undefined },
  ),
  key: fc.option(fc.constantFrom('k1', '', '\u2028', 'x'.repeat(1025), '__proto__'), { nil: undefined }),
  priority: fc.option(fc.constantFrom('0', '100', '101', '-1', '1.5', 'high'), { nil: undefined }),
};

const argv = fc.record(flagValue).map(({ handler, timing, payload, key, priority }) => {
  const args = ['schedule', '--handler', handler, ...timing];
  if (payload !== undefined) args.push('--payload', payload);
  if (key !== undefined) args.push('--key', key);
  if (priority !== undefined) args.push('--priority', priority);
  return { args, payload };
});

describe('tickset schedule (child process)', () => {
  it('exits 0 with a job that round-trips, or 1 with one clear line and Redis unchanged', async () => {
    const namespace = randomNamespace('cli');
    const scheduler = new Scheduler({ redis, namespace });
    const seen = { ok: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(argv, async ({ args, payload }) => {
        const before = await snapshotNamespace(redis, namespace);
        const { code, stdout, stderr } = await cli([
          '--redis',
          redisUrl(),
          '--namespace',
          namespace,
          '--json',
          ...args,
        ]);
        const context = `tickset ${args.map((a) => JSON.stringify(a)).join(' ')}\nexit ${code}\n${stdout}${stderr}`;
        expect([0, 1], context).toContain(code);
        expect(stderr, context).not.toMatch(/\n\s+at /); // no stack trace
        if (code === 1) {
          seen.rejected++;
          expect(stderr.trim().split('\n'), context).toHaveLength(1);
          expect(stderr, context).toMatch(/^tickset: \S/);
          expect(stdout, context).toBe('');
          expect(await snapshotNamespace(redis, namespace), context).toEqual(before);
          return;
        }
        seen.ok++;
        const out = JSON.parse(stdout) as { id: string; runAt: string; handler: string };
        const job = await scheduler.get(out.id);
        expect(job, context).toBeDefined();
        expect(JSON.stringify(job!.payload), context).toBe(
          JSON.stringify(payload === undefined ? null : JSON.parse(payload)),
        );
        expect(job!.runAt?.toISOString(), context).toBe(new Date(out.runAt).toISOString());
        expect(await scheduler.cancel(out.id)).toBe(true);
      }),
      {
        numRuns: 24,
        examples: [
          [
            {
              args: ['schedule', '--handler', 'h', '--in', '5m', '--payload', '{"a":[1,"é"]}'],
              payload: '{"a":[1,"é"]}',
            },
          ],
          [
            {
              args: ['schedule', '--handler', 'h', '--cron', '*/5 * * * * *', '--tz', 'Europe/Berlin'],
              payload: undefined,
            },
          ],
          [{ args: ['schedule', '--handler', 'h', '--in', '5m', '--key', '\uD800x'], payload: undefined }],
        ],
      },
    );
    expect(seen.ok).toBeGreaterThanOrEqual(2);
    expect(seen.rejected).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it('an unreachable Redis exits 2 with one line', async () => {
    const { code, stderr } = await cli([
      '--redis',
      'redis://127.0.0.1:1',
      'schedule',
      '--handler',
      'h',
      '--in',
      '5m',
    ]);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^tickset: /);
  }, 60_000);
});
