/**
 * Starts private `redis-server` processes for tests: one per call, on a free port, in a temp dir.
 * Nothing here talks to the machine's shared Redis on 6379.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface RedisServerHandle {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly pid: number;
  /** Stops the server by PID (SIGTERM, then SIGKILL) and waits for exit. */
  stop(options?: { keepDir?: boolean; signal?: NodeJS.Signals }): Promise<void>;
}

export interface StartRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. */
  readonly args?: readonly string[];
  /** Reuse this port (e.g. to restart a server on the same address). */
  readonly port?: number;
  /** Reuse this directory (e.g. to restart with its AOF). */
  readonly dir?: string;
  /** When set, the readiness probe uses these extra `redis-cli` arguments (auth, TLS). */
  readonly cliArgs?: readonly string[];
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('no port'));
        return;
      }
      srv.close(() => resolve(address.port));
    });
  });
}

async function waitUntilAnswers(
  port: number,
  cliArgs: readonly string[],
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`);
    try {
      const { stdout } = await execFileAsync('redis-cli', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        ...cliArgs,
        'PING',
      ]);
      if (stdout.includes('PONG')) return;
      lastError = new Error(stdout);
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on ${port} did not answer within 15 s: ${String(lastError)}`);
}

/** Starts a private `redis-server` and resolves once it answers PING. */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tickset-redis-'));
  const baseArgs = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  const child = spawn('redis-server', [...baseArgs, ...(options.args ?? [])], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: false,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitUntilAnswers(port, options.cliArgs ?? [], child);
  const pid = child.pid ?? -1;
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    pid,
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(stopOptions.signal ?? 'SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (!stopOptions.keepDir && options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisClusterHandle {
  readonly nodes: readonly RedisServerHandle[];
  /** `redis://127.0.0.1:port` for every master. */
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

/** Builds a local cluster of `masters` masters (no replicas) with `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const nodes: RedisServerHandle[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(
      await startRedisServer({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ],
      }),
    );
  }
  await execFileAsync('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(
      nodes.map(async (n) => {
        const { stdout } = await execFileAsync('redis-cli', ['-p', String(n.port), 'CLUSTER', 'INFO']);
        return stdout.includes('cluster_state:ok');
      }),
    );
    if (states.every(Boolean)) break;
    if (Date.now() > deadline)
      throw new Error('local Redis Cluster did not reach cluster_state:ok within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
