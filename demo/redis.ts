/**
 * Finds Redis for the demo: `--redis`, TICKSET_REDIS_URL, REDIS_URL, else redis://127.0.0.1:6379. When the
 * default answers nothing and `redis-server` is installed, starts a private one (no persistence, temp dir,
 * free port) and stops it on exit. Also deletes the demo's keys so a shared Redis is left as it was.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  DEFAULT_REDIS_URL,
  probeRedis,
  type RedisTarget,
  redactUrl,
  resolveRedisUrl,
} from '../src/cli/connection.js';
import { namespaceGlob } from '../src/core/keys.js';
import type { RedisClient } from '../src/redis/connection.js';

/** A problem the demo reports as one line (no stack trace) before exiting 1. */
export class DemoError extends Error {
  override readonly name = 'DemoError';
}

export interface DemoRedis {
  readonly url: string;
  /** How it was found, for the banner: `--redis`, `REDIS_URL`, `default`, or `private redis-server`. */
  readonly origin: string;
  /** Stops the private server, if one was started. Idempotent. */
  stop(): Promise<void>;
}

export function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts `redis-server` on a free port in a temp dir, without persistence; resolves once it answers. */
export async function startPrivateServer(binary: string): Promise<DemoRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tickset-demo-redis-'));
  // Detached: its own process group, so Ctrl-C reaches only the demo, which then cleans up and stops it.
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore', detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new DemoError(`the private redis-server exited with code ${child.exitCode} before answering`);
    }
    const probe = await probeRedis(url, { timeoutMs: 500 });
    if (probe.ok) {
      probe.client.disconnect();
      break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new DemoError(`the private redis-server on port ${port} did not answer within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, origin: `private redis-server (pid ${child.pid}, stopped at exit)`, stop };
}

/** Finds a Redis that answers, or starts one, or throws a DemoError that says how to get one. */
export async function obtainRedis(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  defaultUrl: string = DEFAULT_REDIS_URL,
): Promise<DemoRedis> {
  const resolved: RedisTarget = resolveRedisUrl(flag, env);
  const target = resolved.source === 'default' ? { ...resolved, url: defaultUrl } : resolved;
  let probe: Awaited<ReturnType<typeof probeRedis>>;
  try {
    probe = await probeRedis(target.url, { timeoutMs: 1000 });
  } catch (error) {
    throw new DemoError((error as Error).message);
  }
  if (probe.ok) {
    probe.client.disconnect();
    return { url: target.url, origin: target.source, stop: async () => undefined };
  }
  const shown = redactUrl(target.url);
  if (target.source !== 'default') {
    throw new DemoError(
      `cannot reach Redis at ${shown} (from ${target.source}): ${probe.reason}. ` +
        'Fix the URL, or unset it to let the demo start a private redis-server.',
    );
  }
  const binary = findOnPath('redis-server', env);
  if (!binary) {
    throw new DemoError(
      `nothing answers at ${shown} and redis-server is not installed: ` +
        'install Redis (apt-get install redis-server, or brew install redis) or pass --redis redis://host:port',
    );
  }
  return await startPrivateServer(binary);
}

/** Deletes every key of a namespace (jobs, queues, heartbeat) and its idempotency records. */
export async function deleteNamespace(redis: RedisClient, namespace: string): Promise<number> {
  const patterns = [...namespaceGlob(namespace), `tickset-idem:${namespace}*`];
  let deleted = 0;
  for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}
