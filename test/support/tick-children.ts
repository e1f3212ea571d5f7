/** Parent side of `tick-child.ts`: start tick processes, stop or kill them, read what they published. */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PublishedLine, TickChildOptions } from './tick-child.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');

export interface TickChild {
  readonly process: ChildProcess;
  /** Resolves once the child's loop is running. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Asks the loop to stop (it releases the leader lease) and waits for the exit. */
  stop(): Promise<void>;
  /** Sends `signal` to this child only and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export function spawnTickChild(options: TickChildOptions): TickChild {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'tick-child.ts')], {
    cwd: ROOT,
    env: { ...process.env, TICK_CHILD: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message) => {
      if (typeof message === 'object' && message !== null && 'ready' in message) resolve();
    });
    void exited.then((how) =>
      reject(new Error(`tick child ${options.ownerId} exited (${how}) before ready`)),
    );
  });
  ready.catch(() => undefined);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    ready,
    exited,
    async stop() {
      if (alive() && child.connected) child.send('stop');
      await exited;
    },
    async kill(signal) {
      if (alive()) child.kill(signal);
      await exited;
    },
  };
}

/** Every complete line of a child's output file. */
export function readPublished(path: string): PublishedLine[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n');
  if (end < 0) return [];
  return text
    .slice(0, end)
    .split('\n')
    .map((line) => JSON.parse(line) as PublishedLine);
}

/** Reads the lines appended to a child's output file since the last call. */
export class PublishedTail {
  #offset = 0;
  #partial = '';
  constructor(readonly path: string) {}

  next(): PublishedLine[] {
    if (!existsSync(this.path)) return [];
    const fd = openSync(this.path, 'r');
    const chunks: Buffer[] = [];
    try {
      const buffer = Buffer.alloc(1 << 16);
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, this.#offset);
        if (n === 0) break;
        chunks.push(Buffer.from(buffer.subarray(0, n)));
        this.#offset += n;
      }
    } finally {
      closeSync(fd);
    }
    const text = this.#partial + Buffer.concat(chunks).toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.#partial = text;
      return [];
    }
    this.#partial = text.slice(end + 1);
    return text
      .slice(0, end)
      .split('\n')
      .map((line) => JSON.parse(line) as PublishedLine);
  }
}
