/**
 * Emulated AWS for the deployed-stack test: `moto_server` on a free loopback port, a recording proxy in
 * front of it (one per function, so every SDK call is attributed to the bundle that made it), SQS over its
 * JSON protocol, and a child process that runs a bundled Lambda function as the Lambda runtime would.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../support/redis-server.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export interface Moto {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts moto_server; fails with a clear message when it is not installed (never skips). */
export async function startMoto(): Promise<Moto> {
  const probe = spawnSync('moto_server', ['--help'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'moto_server is not on PATH (or does not run): install moto 5 with its server (pip install "moto[server]") ' +
        'to run the emulated-AWS end-to-end test',
    );
  }
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server on ${port} did not answer within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One AWS API call a bundle made. */
export interface RecordedCall {
  /** `events:PutEvents`, `secretsmanager:GetSecretValue`, ... */
  readonly action: string;
  readonly body: Record<string, unknown>;
}

export interface RecordingProxy {
  readonly url: string;
  readonly calls: RecordedCall[];
  /** PutEvents requests forwarded to moto so far, and not yet. */
  readonly forwarded: { done: number; pending: number };
  /** Forwarded PutEvents requests moto failed (before close). */
  readonly errors: string[];
  close(): Promise<void>;
}

/**
 * moto 5.2 takes about 130 ms per PutEvents entry that matches a rule with a target (measured on this
 * machine: 10 calls of 10 entries in 13-18 s with an SQS or a log-group target, 83 ms without targets), so
 * the tick's 8 concurrent calls would queue past its 5 s request timeout. With `answerPutEvents`, the proxy
 * answers PutEvents at once (every entry accepted, as moto answers a well-formed entry) and forwards each
 * request to moto in arrival order, two at a time; the entries still go through moto's rules to the queues.
 */
const FORWARD_CONCURRENCY = 2;

const SERVICE_PREFIX: Record<string, string> = { AWSEvents: 'events', secretsmanager: 'secretsmanager' };

/** A proxy that records each AWS JSON-protocol call (X-Amz-Target) and forwards it to `target`. */
export async function startRecordingProxy(
  target: string,
  options: { answerPutEvents?: boolean } = {},
): Promise<RecordingProxy> {
  const calls: RecordedCall[] = [];
  const errors: string[] = [];
  let closed = false;
  const forwarded = { done: 0, pending: 0 };
  const backlog: (() => Promise<void>)[] = [];
  let running = 0;
  const pump = () => {
    while (running < FORWARD_CONCURRENCY && backlog.length > 0) {
      const job = backlog.shift()!;
      running++;
      void job()
        .catch((error: unknown) => {
          if (!closed) errors.push(String(error));
        })
        .finally(() => {
          running--;
          forwarded.pending--;
          forwarded.done++;
          pump();
        });
    }
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const amzTarget = String(req.headers['x-amz-target'] ?? '');
      const [prefix, operation] = amzTarget.split('.');
      calls.push({
        action: `${SERVICE_PREFIX[prefix ?? ''] ?? prefix}:${operation}`,
        body: body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {},
      });
      const headers = { ...req.headers } as Record<string, string>;
      delete headers.host;
      delete headers['content-length'];
      if (options.answerPutEvents && amzTarget === 'AWSEvents.PutEvents') {
        const entries = (calls.at(-1)!.body.Entries as unknown[]) ?? [];
        forwarded.pending++;
        backlog.push(async () => {
          const answer = await fetch(`${target}${req.url}`, { method: 'POST', headers, body });
          const text = await answer.text();
          if (!answer.ok || (JSON.parse(text) as { FailedEntryCount?: number }).FailedEntryCount) {
            throw new Error(`moto rejected a PutEvents request: ${answer.status} ${text}`);
          }
        });
        pump();
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({
            FailedEntryCount: 0,
            Entries: entries.map(() => ({ EventId: crypto.randomUUID() })),
          }),
        );
        return;
      }
      try {
        const answer = await fetch(`${target}${req.url}`, {
          method: req.method ?? 'POST',
          headers,
          ...(body.length ? { body } : {}),
        });
        const out = Buffer.from(await answer.arrayBuffer());
        res.writeHead(answer.status, Object.fromEntries(answer.headers));
        res.end(out);
      } catch (error) {
        res.writeHead(502);
        res.end(String(error));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    forwarded,
    errors,
    close: () => {
      closed = true;
      backlog.length = 0;
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** SQS over its JSON protocol (the repository has no SQS client), against moto. */
export async function sqs<T = Record<string, unknown>>(
  endpoint: string,
  operation: string,
  input: Record<string, unknown>,
): Promise<T> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${operation}`,
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20261206/${REGION}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(input),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`SQS ${operation}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export interface InvokeResult {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

/**
 * A bundled function in its own `node` process, as a warm Lambda container: one `handler(event, context)`
 * call at a time. `output` collects its stdout lines (logs and EMF metrics).
 */
export class LambdaProcess {
  readonly output: string[] = [];
  readonly stderr: string[] = [];
  /** Environment variables the code read (known after `close()`). */
  envRead: string[] = [];
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (r: InvokeResult) => void>();
  #next = 0;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #exited: Promise<void>;
  #envDone!: () => void;
  readonly #envSeen = new Promise<void>((r) => {
    this.#envDone = r;
  });

  constructor(
    bundle: string,
    readonly functionName: string,
    env: Record<string, string>,
  ) {
    this.#child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'lambda-runner.mjs'), bundle, functionName],
      {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    this.#exited = new Promise((r) => this.#child.once('exit', () => r()));
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      if (line.startsWith('@@RESULT ')) {
        const { id, ...result } = JSON.parse(line.slice(9)) as InvokeResult & { id: number };
        this.#pending.get(id)?.(result);
        this.#pending.delete(id);
      } else if (line.startsWith('@@ENV ')) {
        this.envRead = JSON.parse(line.slice(6)) as string[];
        this.#envDone();
      } else if (line.trim()) {
        this.output.push(line);
      }
    });
    createInterface({ input: this.#child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  /** Invokes the handler; calls are queued, one at a time, like one container. */
  invoke(event: unknown, remainingMs = 30_000): Promise<InvokeResult> {
    const run = () =>
      new Promise<InvokeResult>((resolve, reject) => {
        if (this.#child.exitCode !== null) {
          reject(new Error(`${this.functionName} exited: ${this.stderr.slice(-20).join('\n')}`));
          return;
        }
        const id = this.#next++;
        this.#pending.set(id, resolve);
        this.#child.stdin!.write(`${JSON.stringify({ id, event, remainingMs })}\n`);
      });
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Kills the process (after a failure). */
  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }

  /** Ends the process after the queued invocations and collects the environment variables read. */
  async close(): Promise<void> {
    await this.#queue;
    this.#child.stdin!.end();
    await Promise.race([this.#envSeen, this.#exited]);
    await this.#exited;
  }
}

/** EMF lines (Powertools Metrics output) among a function's stdout lines. */
export interface EmfRecord {
  readonly namespace: string;
  readonly dimensions: string[][];
  readonly metrics: { Name: string; Unit: string }[];
  readonly values: Record<string, unknown>;
}

export function emfRecords(lines: readonly string[]): EmfRecord[] {
  const records: EmfRecord[] = [];
  for (const line of lines) {
    if (!line.includes('"_aws"')) continue;
    const parsed = JSON.parse(line) as {
      _aws: {
        CloudWatchMetrics: {
          Namespace: string;
          Dimensions: string[][];
          Metrics: { Name: string; Unit: string }[];
        }[];
      };
    } & Record<string, unknown>;
    for (const directive of parsed._aws.CloudWatchMetrics) {
      records.push({
        namespace: directive.Namespace,
        dimensions: directive.Dimensions,
        metrics: directive.Metrics,
        values: parsed,
      });
    }
  }
  return records;
}
