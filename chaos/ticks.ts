/** Starts, SIGKILLs, restarts and finally stops the tick child processes of a chaos run. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TickProcessConfig } from './tick-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = fileURLToPath(new URL('./tick-process.ts', import.meta.url));

interface Slot {
  readonly label: string;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  generation: number;
}

export interface TickFleetCounters {
  started: number;
  kills: number;
  leaderKills: number;
  stderrWarnings: number;
  stderrErrors: number;
  /** Lines that are not the tick's JSON logs (Node warnings, crashes). */
  stderrOther: number;
  /** Distinct stderr messages with their counts, for the report. */
  readonly messages: Map<string, number>;
}

export class TickFleet {
  readonly counters: TickFleetCounters = {
    started: 0,
    kills: 0,
    leaderKills: 0,
    stderrWarnings: 0,
    stderrErrors: 0,
    stderrOther: 0,
    messages: new Map(),
  };
  readonly #slots: Slot[];
  readonly #config: Omit<TickProcessConfig, 'label'>;

  constructor(count: number, config: Omit<TickProcessConfig, 'label'>) {
    this.#config = config;
    this.#slots = Array.from({ length: count }, (_, i) => ({
      label: `tick-${i}`,
      child: undefined,
      exited: undefined,
      generation: 0,
    }));
  }

  get size(): number {
    return this.#slots.length;
  }

  startAll(): void {
    for (let i = 0; i < this.#slots.length; i++) this.start(i);
  }

  start(index: number): void {
    const slot = this.#slots[index]!;
    if (slot.child) return;
    slot.generation++;
    const config: TickProcessConfig = { ...this.#config, label: `${slot.label}.${slot.generation}` };
    const child = spawn(process.execPath, ['--conditions=tickset-source', '--import', 'tsx', ENTRY], {
      cwd: ROOT,
      env: {
        ...process.env,
        CHAOS_TICK_CONFIG: JSON.stringify(config),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.counters.started++;
    slot.child = child;
    slot.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let buffered = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        this.#stderrLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
      }
    });
    void slot.exited.then(() => {
      if (slot.child === child) {
        slot.child = undefined;
        slot.exited = undefined;
      }
    });
  }

  #stderrLine(line: string): void {
    if (line.trim() === '') return;
    let message = line.slice(0, 200);
    try {
      const parsed = JSON.parse(line) as { level?: string; message?: string; extra?: unknown };
      if (parsed.level === 'warn') this.counters.stderrWarnings++;
      else this.counters.stderrErrors++;
      message = `${parsed.level}: ${parsed.message} ${JSON.stringify(parsed.extra ?? '')}`
        .replace(/\d{4,}/g, 'N')
        .slice(0, 200);
    } catch {
      this.counters.stderrOther++;
    }
    const messages = this.counters.messages;
    if (messages.has(message) || messages.size < 20) messages.set(message, (messages.get(message) ?? 0) + 1);
  }

  /** Index of the slot whose process currently holds the leader lease, if any. */
  slotOfOwner(owner: string | null): number | undefined {
    if (!owner) return undefined;
    const index = this.#slots.findIndex((s) => s.child && owner.startsWith(`${s.label}.${s.generation}-`));
    return index >= 0 ? index : undefined;
  }

  alive(): number[] {
    return this.#slots.flatMap((s, i) => (s.child ? [i] : []));
  }

  /** SIGKILL, and wait for the exit. */
  async kill(index: number, leader = false): Promise<void> {
    const slot = this.#slots[index]!;
    const child = slot.child;
    if (!child) return;
    const exited = slot.exited;
    child.kill('SIGKILL');
    this.counters.kills++;
    if (leader) this.counters.leaderKills++;
    await exited;
  }

  /** SIGTERM every process (a clean stop) and wait; SIGKILL whatever is still running after 10 s. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.#slots.map(async (slot) => {
        const child = slot.child;
        if (!child) return;
        const exited = slot.exited;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
