/**
 * The private Redis of a bench run: one `redis-server` on a free port (no persistence, `hz 10` unless told
 * otherwise), shared by tickset and BullMQ so both are measured against the same server. Also: memory
 * sampling, FLUSHALL + settle between runs, and INFO commandstats for profiling.
 */
import { Redis } from 'ioredis';
import { type RedisServerHandle, startRedisServer } from '../test/support/redis-server.js';

export interface BenchRedis {
  readonly server: RedisServerHandle;
  readonly url: string;
  /** An admin connection (INFO, FLUSHALL, CONFIG). */
  readonly admin: Redis;
  info(section: string): Promise<Record<string, string>>;
  usedMemory(): Promise<number>;
  /** `used_memory` once it stops moving (client buffers freed, lazy frees done). */
  settledMemory(): Promise<number>;
  /** FLUSHALL (sync), then waits until `used_memory` stops moving. */
  flush(): Promise<void>;
  setHz(hz: number): Promise<void>;
  /** CPU seconds the server has used (user + sys, main thread and all): robust to a busy machine. */
  cpuSeconds(): Promise<number>;
  resetStats(): Promise<void>;
  /** `cmdstat_*` lines of INFO commandstats: calls and total microseconds per command. */
  commandStats(): Promise<Record<string, { calls: number; usec: number; usecPerCall: number }>>;
  stop(): Promise<void>;
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startBenchRedis(hz = 10): Promise<BenchRedis> {
  const server = await startRedisServer({ args: ['--hz', String(hz), '--save', '', '--appendonly', 'no'] });
  return benchRedisOf(server);
}

/**
 * The bench Redis another process started (a figure's child process): the same helpers, over its own
 * admin connection; `stop()` closes that connection and leaves the server running.
 */
export function attachBenchRedis(url: string): BenchRedis {
  const parsed = new URL(url);
  const server: RedisServerHandle = {
    host: parsed.hostname,
    port: Number(parsed.port),
    url,
    dir: '',
    pid: 0,
    stop: async () => undefined,
  };
  return benchRedisOf(server);
}

function benchRedisOf(server: RedisServerHandle): BenchRedis {
  const admin = new Redis(server.url, { maxRetriesPerRequest: null, lazyConnect: false });
  const info = async (section: string) => parseInfo(await admin.info(section));
  const usedMemory = async () => Number((await info('memory')).used_memory);
  const settledMemory = async () => {
    let last = await usedMemory();
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      const now = await usedMemory();
      if (Math.abs(now - last) < 1024) return now;
      last = now;
    }
    return last;
  };
  return {
    server,
    url: server.url,
    admin,
    info,
    usedMemory,
    settledMemory,
    async flush() {
      await admin.flushall('SYNC');
      await settledMemory();
    },
    async cpuSeconds() {
      const cpu = await info('cpu');
      return Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys);
    },
    async setHz(value: number) {
      await admin.config('SET', 'hz', String(value));
    },
    async resetStats() {
      await admin.config('RESETSTAT');
      await admin.slowlog('RESET');
    },
    async commandStats() {
      const raw = await info('commandstats');
      const out: Record<string, { calls: number; usec: number; usecPerCall: number }> = {};
      for (const [key, value] of Object.entries(raw)) {
        if (!key.startsWith('cmdstat_')) continue;
        const fields = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]));
        out[key.slice(8)] = {
          calls: Number(fields.calls),
          usec: Number(fields.usec),
          usecPerCall: Number(fields.usec_per_call),
        };
      }
      return out;
    },
    async stop() {
      await admin.quit().catch(() => admin.disconnect());
      await server.stop();
    },
  };
}

const PAYLOAD_PAD = 'x'.repeat(100 - JSON.stringify({ userId: 100000, kind: 'reminder', note: '' }).length);

/** The same 100-byte JSON payload for every job of both systems (userId always has 6 digits). */
export function payload100(i = 0): { userId: number; kind: string; note: string } {
  return { userId: 100000 + (i % 900000), kind: 'reminder', note: PAYLOAD_PAD };
}
