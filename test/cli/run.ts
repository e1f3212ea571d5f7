/** Runs the CLI as a child process, the way an operator does, and seeds namespaces through the engine. */
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { runCli as run } from '../../src/cli/program.js';
import { Scheduler } from '../../src/client/scheduler.js';
import type { TaskEventDetail } from '../../src/core/types.js';
import { newClient, randomNamespace, redisUrl } from '../support/context.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Run through bin/tickset.js (tsx on the sources, as `npx tickset` in a clone) instead of the bundle. */
  readonly viaBin?: boolean;
  readonly timeoutMs?: number;
  /** Written to the child's standard input, which is then closed. */
  readonly input?: string;
}

let bundle: Promise<string> | undefined;

/**
 * src/cli/main.ts bundled with esbuild (dependencies external), as a build would ship it: a child starts in
 * about half the CPU time of tsx, which keeps these tests quick on a busy machine. Lives under .tmp/ so
 * that the package.json lookup and node_modules resolve as in the repository.
 */
function cliBundle(): Promise<string> {
  bundle ??= (async () => {
    // One shared path for every test file: each builds to its own name and renames it into place
    // (atomic), so a concurrent reader sees one whole bundle or the other, never half of one.
    const dir = join(root, '.tmp', 'cli-test');
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, 'main.mjs');
    const own = join(dir, `main.${process.pid}.mjs`);
    await build({
      entryPoints: [main],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      conditions: ['tickset-source'],
      outfile: own,
      logLevel: 'error',
    });
    renameSync(own, outfile);
    return outfile;
  })();
  return bundle;
}

/** A clean environment: no Redis or namespace variables leak in from the machine. */
function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' };
  return { ...env, ...extra };
}

export async function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const argv = options.viaBin
    ? [fileURLToPath(new URL('../../bin/tickset.js', import.meta.url)), ...args]
    : [await cliBundle(), ...args];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      argv,
      { cwd: root, env: baseEnv(options.env), timeout: options.timeoutMs ?? 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

/**
 * Runs the same program in this process (no Node start-up, so cheap): for the many validation cases. Each
 * command still gets child-process tests too.
 */
export async function runInProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const started = Date.now();
  const code = await run(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
    now: Date.now,
  });
  return { code, stdout, stderr, ms: Date.now() - started };
}

/** A CLI bound to the test Redis and one fresh namespace. */
export function cliFor(namespace: string) {
  return (args: readonly string[], options: RunOptions = {}) =>
    runCli(['--redis', redisUrl(), '--namespace', namespace, ...args], options);
}

/** The same, in process. */
export function inProcessFor(namespace: string) {
  return (args: readonly string[], env: NodeJS.ProcessEnv = {}) =>
    runInProcess(['--redis', redisUrl(), '--namespace', namespace, ...args], env);
}

/** A namespace with a scheduler over the test Redis; `close()` when done. */
export function seeded(prefix = 'cli') {
  const namespace = randomNamespace(prefix);
  const redis = newClient();
  const scheduler = new Scheduler({ redis, namespace });
  return {
    namespace,
    redis,
    scheduler,
    engine: scheduler.engine,
    cli: cliFor(namespace),
    run: inProcessFor(namespace),
    /** Schedules `count` jobs due now, claims them, and returns the claimed tasks (in flight). */
    async claimNow(handler: string, count = 1): Promise<TaskEventDetail[]> {
      await scheduler.scheduleMany(
        Array.from({ length: count }, (_, i) => ({ handler, payload: { n: i }, at: Date.now() })),
      );
      const now = Date.now();
      await scheduler.engine.promote(0, [handler], now, 1000);
      const { tasks } = await scheduler.engine.claim(0, [{ handler, limit: count, leaseMs: 60_000 }], now);
      return tasks;
    },
    /** Puts `count` jobs of `handler` in the dead set (claim, then fail without retry). */
    async makeDead(handler: string, count = 1, message = 'HTTP 503 from partner'): Promise<string[]> {
      const tasks = await this.claimNow(handler, count);
      for (const task of tasks) {
        await scheduler.engine.fail(task, { reason: 'error', message }, Date.now(), { retry: false });
      }
      return tasks.map((t) => t.id);
    },
    async close() {
      await redis.quit();
    },
  };
}

/** Parses stdout as one JSON document (fails the test with the text if it is not). */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** One line on stderr starting with `tickset:`, and no stack trace. */
export function oneLineError(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  if (lines.length !== 1 || !lines[0]!.startsWith('tickset: ') || /\n\s+at /.test(result.stderr)) {
    throw new Error(`expected one "tickset: ..." line on stderr, got:\n${result.stderr}`);
  }
  return lines[0]!;
}
