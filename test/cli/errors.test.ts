import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { randomNamespace, redisUrl } from '../support/context.js';
import { freePort } from '../support/redis-server.js';
import { json, oneLineError, runCli, runInProcess } from './run.js';

describe('tickset: usage, connection and launcher', () => {
  it('prints help and the version with exit 0', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['status', 'list', 'show', 'schedule', 'cancel', 'dead', 'pause', 'resume']) {
      expect(help.stdout).toContain(command);
    }
    const version = await runInProcess(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    const deadHelp = await runInProcess(['dead', '--help']);
    expect(deadHelp.stdout).toMatch(/replay \[options\] \[id\|key\]/);
  });

  it('rejects an unknown command with exit 1 and one line', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(oneLineError(result)).toBe("tickset: unknown command 'frobnicate'");
  });

  it('rejects an unknown option', async () => {
    const result = await runInProcess(['status', '--verbose']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tickset: unknown option '--verbose'/);
  });

  it('fails fast with exit 2 when nothing listens, naming the URL without credentials', async () => {
    const port = await freePort();
    const url = `redis://admin:s3cret@127.0.0.1:${port}`;
    const child = await runCli(['--redis', url, 'status']);
    expect(child.code).toBe(2);
    expect(child.stdout).toBe('');
    expect(oneLineError(child)).toBe(
      `tickset: cannot reach Redis at redis://***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}: ` +
        'start Redis there or fix the port',
    );
    for (const args of [
      ['list', '--json'],
      ['pause', 'x'],
      ['dead', 'purge'],
      ['schedule', '--handler', 'h', '--in', '1m'],
    ]) {
      const result = await runInProcess(['--redis', url, ...args]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(oneLineError(result)).not.toContain('s3cret');
      expect(result.ms).toBeLessThan(3000);
    }
  });

  it('gives up within seconds on a server that accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await runInProcess(['--redis', `redis://127.0.0.1:${port}`, 'status']);
      expect(result.code).toBe(2);
      expect(oneLineError(result)).toBe(
        `tickset: cannot reach Redis at redis://127.0.0.1:${port}: no answer within 1500 ms`,
      );
      expect(result.ms).toBeLessThan(4000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reads the URL from TICKSET_REDIS_URL, then REDIS_URL', async () => {
    const port = await freePort();
    const dead = `redis://127.0.0.1:${port}`;
    const namespace = randomNamespace('env');
    const fromTickset = await runInProcess(['--namespace', namespace, 'status', '--json'], {
      TICKSET_REDIS_URL: redisUrl(),
      REDIS_URL: dead,
    });
    expect(fromTickset.code).toBe(0);
    expect(json(fromTickset).namespace).toBe(namespace);
    const fromFallback = await runInProcess(['status'], { REDIS_URL: dead, TICKSET_NAMESPACE: namespace });
    expect(fromFallback.code).toBe(2);
    expect(oneLineError(fromFallback)).toContain(dead);
    const flagWins = await runInProcess(['--redis', redisUrl(), 'status', '--json'], {
      TICKSET_REDIS_URL: dead,
      TICKSET_NAMESPACE: namespace,
    });
    expect(json(flagWins).namespace).toBe(namespace);
  });

  it.each([
    [
      ['--redis', 'http://example.com', 'status'],
      /^tickset: invalid --redis "http:\/\/example.com": scheme http:/,
    ],
    [
      ['--redis', 'not a url', 'status'],
      /^tickset: invalid --redis "not a url": expected a redis:\/\/ or rediss:\/\//,
    ],
    [
      ['--redis', '', 'status'],
      /^tickset: invalid --redis: it is empty; expected a redis:\/\/ or rediss:\/\//,
    ],
    [['--namespace', 'bad namespace!', 'status'], /^tickset: invalid --namespace "bad namespace!"/],
    [['--shards', '0', 'status'], /^tickset: invalid --shards "0": expected an integer from 1 to 1024/],
    [['show', ''], /^tickset: invalid job id or key/],
  ])('rejects bad input %j with exit 1', async (args, message) => {
    const result = await runInProcess(args);
    expect(result.code).toBe(1);
    expect(oneLineError(result)).toMatch(message);
  });

  it('works through bin/tickset.js (the npx entry), exit codes included', async () => {
    const namespace = randomNamespace('bin');
    const result = await runCli(['--redis', redisUrl(), '--namespace', namespace, 'status', '--json'], {
      viaBin: true,
    });
    expect(result.code).toBe(0);
    expect(json(result)).toMatchObject({ namespace, tick: { state: 'never-seen' } });
    const failing = await runCli(['show', 'x', '--redis', redisUrl(), '--namespace', namespace], {
      viaBin: true,
    });
    expect(failing.code).toBe(1);
    oneLineError(failing);
  });
});
