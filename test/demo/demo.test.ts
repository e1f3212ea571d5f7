import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteNamespace, findOnPath, obtainRedis } from '../../demo/redis.js';
import { scenario } from '../../demo/scenario.js';
import { percentile } from '../../demo/tracker.js';
import { newClient, randomNamespace, redisUrl } from '../support/context.js';
import { freePort } from '../support/redis-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runDemo(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=tickset-source', '--import', 'tsx', 'demo/index.ts', ...args],
      { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 40_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

describe('npm start (the demo)', () => {
  let redis: ReturnType<typeof newClient>;
  beforeAll(() => {
    redis = newClient();
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('runs the scenario, prints a summary with done > 0 and dead >= 1, exits 0 and leaves no keys', async () => {
    const result = await runDemo(['--redis', redisUrl(), '--duration', '6']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const totals = /totals: done=(\d+) retried=(\d+) dead=(\d+)/.exec(result.stdout);
    expect(totals, result.stdout).not.toBeNull();
    expect(Number(totals![1])).toBeGreaterThan(0);
    expect(Number(totals![3])).toBeGreaterThanOrEqual(1);
    expect(result.stdout).toMatch(/^dead set \(\d+\):\n {2}\w{14} {2}broken-webhook {2}after 3\/3 attempts/m);
    expect(result.stdout).toMatch(
      /^\[\s*\d+\.\ds\] \| due \d+ \| scheduled \d+ \| in flight \d+ \| done \d+/m,
    );
    const namespace = /namespace (demo-[0-9a-f]+)/.exec(result.stdout)![1]!;
    const left = [
      ...(await redis.keys(`{${namespace}}:*`)),
      ...(await redis.keys(`{${namespace}:*`)),
      ...(await redis.keys(`tickset-idem:${namespace}*`)),
    ];
    expect(left).toEqual([]);
  }, 45_000);

  it('says how to get Redis when an explicit URL does not answer: one line, exit 1', async () => {
    const port = await freePort();
    const result = await runDemo(['--redis', `redis://127.0.0.1:${port}`, '--duration', '1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `tickset demo: cannot reach Redis at redis://127.0.0.1:${port} (from --redis): connect ECONNREFUSED 127.0.0.1:${port}. Fix the URL, or unset it to let the demo start a private redis-server.`,
    ]);
  });

  it('starts a private redis-server when the default answers nothing, and stops it', async () => {
    if (!findOnPath('redis-server', process.env)) return;
    const port = await freePort();
    const found = await obtainRedis(undefined, { PATH: process.env.PATH }, `redis://127.0.0.1:${port}`);
    expect(found.origin).toMatch(/^private redis-server/);
    expect(found.url).not.toBe(`redis://127.0.0.1:${port}`);
    const client = new Redis(found.url);
    expect(await client.ping()).toBe('PONG');
    const [, dir] = (await client.config('GET', 'dir')) as [string, string];
    client.disconnect();
    await found.stop();
    expect(existsSync(dir)).toBe(false);
  });

  it('tells the user to install Redis when there is none', async () => {
    const port = await freePort();
    await expect(
      obtainRedis(undefined, { PATH: '/nonexistent' }, `redis://127.0.0.1:${port}`),
    ).rejects.toThrow(
      /redis-server is not installed: install Redis \(apt-get install redis-server.*\) or pass --redis/,
    );
  });

  it('deletes every key of a namespace and nothing else', async () => {
    const namespace = randomNamespace('demo');
    const other = randomNamespace('demo');
    await redis.set(`{${namespace}}:heartbeat`, '1');
    await redis.set(`{${namespace}:0}:jobs`, '1');
    await redis.set(`tickset-idem:${namespace}#abc`, '1');
    await redis.set(`{${other}:0}:jobs`, '1');
    expect(await deleteNamespace(redis, namespace)).toBe(3);
    expect(await redis.exists(`{${other}:0}:jobs`)).toBe(1);
    await redis.del(`{${other}:0}:jobs`);
  });

  it('schedules the documented mix', () => {
    const jobs = scenario();
    expect(jobs.filter((j) => j.handler === 'rate-limited-api')).toHaveLength(50);
    expect(jobs).toContainEqual(
      expect.objectContaining({ cron: '*/3 * * * * *', timezone: 'Europe/Berlin' }),
    );
    expect(jobs).toContainEqual(expect.objectContaining({ handler: 'sync-device', everyMs: 2000 }));
    expect(jobs).toContainEqual(
      expect.objectContaining({
        handler: 'broken-webhook',
        maxAttempts: 3,
        backoff: { type: 'fixed', delayMs: 300 },
      }),
    );
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([], 99)).toBeUndefined();
  });
});
