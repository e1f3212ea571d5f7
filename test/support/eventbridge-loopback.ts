/**
 * A loopback EventBridge for tests: a node:http server on 127.0.0.1 that speaks the PutEvents AWS JSON 1.1
 * protocol, records every entry it receives and follows a scriptable fault plan (partial failures,
 * throttling, 500s, dropped connections), so the real `EventBridgeClient` can be driven through every
 * failure deterministically. The chaos suite reuses it with a seeded random plan.
 *
 * Protocol: `POST /`, `X-Amz-Target: AWSEvents.PutEvents`, `Content-Type: application/x-amz-json-1.1`,
 * body `{"Entries":[…]}`; response `{"FailedEntryCount":n,"Entries":[{"EventId"}|{"ErrorCode","ErrorMessage"}]}`;
 * errors as `{"__type":"…","message":"…"}` with a 4xx/5xx status. Like the service, it rejects a request with
 * more than 10 entries or more than 256 KB of entries (`ValidationException`), and fails an entry whose
 * `Detail` is not a JSON object (`MalformedDetail`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, type EventBridgeClientConfig } from '@aws-sdk/client-eventbridge';

/** One entry as it arrived on the wire. */
export interface LoopbackEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly EventBusName?: string;
  readonly Time?: number | string;
  readonly Resources?: readonly string[];
  readonly TraceHeader?: string;
}

/**
 * What the server does with one request:
 * - `'ok'`: accept every entry (except a malformed `Detail`);
 * - `'throttle'`: HTTP 400 `ThrottlingException` ("Rate exceeded"), nothing accepted;
 * - `'500'`: HTTP 500 `InternalException`, nothing accepted;
 * - `'reset'`: destroy the connection without answering, nothing accepted;
 * - `'ackLost'`: accept every entry, then destroy the connection (the client sees a network error and
 *   cannot know the entries arrived: a retry delivers them twice, as it can on AWS);
 * - `{ failIndexes, code?, message? }`: partial failure: these positions fail with `code`
 *   (default `ThrottlingException`), the rest are accepted;
 * - `{ error, status?, message? }`: whole-call error with this `__type` and status (default 400).
 */
export type LoopbackFault =
  | 'ok'
  | 'throttle'
  | '500'
  | 'reset'
  | 'ackLost'
  | { readonly failIndexes: readonly number[]; readonly code?: string; readonly message?: string }
  | { readonly error: string; readonly status?: number; readonly message?: string };

/**
 * Decides the fault for each request. `requestIndex` counts every PutEvents request from 0. It may return a
 * promise, e.g. to hold a request until others arrive (the request stays "in flight" meanwhile).
 */
export type FaultPlan = (
  requestIndex: number,
  entries: readonly LoopbackEntry[],
) => LoopbackFault | Promise<LoopbackFault>;

/** One PutEvents request as the server saw and answered it. */
export interface RecordedRequest {
  readonly index: number;
  readonly entries: readonly LoopbackEntry[];
  readonly fault: LoopbackFault;
  /** HTTP status sent, or 0 when the connection was destroyed. */
  readonly status: number;
}

/** An accepted entry: it got an `EventId` (for `'ackLost'`, the client never saw it). */
export interface DeliveredEntry {
  readonly requestIndex: number;
  readonly eventId: string;
  readonly entry: LoopbackEntry;
}

/** A running loopback server. */
export interface EventBridgeLoopback {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order of its answer. */
  readonly requests: readonly RecordedRequest[];
  /** Every entry received, attempts included, in arrival order. */
  readonly received: readonly LoopbackEntry[];
  /** Every entry accepted, in order. */
  readonly delivered: readonly DeliveredEntry[];
  /** Requests received and not yet answered, right now. */
  readonly inFlight: number;
  /** Highest `inFlight` seen. */
  readonly maxInFlight: number;
  /** Replaces the fault plan for the requests that arrive from now on. */
  setFaultPlan(plan: FaultPlan): void;
  /** `Detail` of every delivered entry, parsed. */
  deliveredDetails<T = unknown>(): T[];
  /** A real `EventBridgeClient` pointed at this server: region us-east-1, fake static keys, `maxAttempts: 1`. */
  createClient(overrides?: EventBridgeClientConfig): EventBridgeClient;
  /** Closes the server and every connection. */
  close(): Promise<void>;
}

/** Options of {@link startEventBridgeLoopback}. */
export interface EventBridgeLoopbackOptions {
  /** @default () => 'ok' */
  readonly faultPlan?: FaultPlan;
}

const JSON_11 = 'application/x-amz-json-1.1';
const TARGET = 'AWSEvents.PutEvents';
const MAX_ENTRIES = 10;
const MAX_BYTES = 256 * 1024;

/** Entry size as EventBridge documents it; computed here independently of src/publish on purpose. */
function wireEntrySize(entry: LoopbackEntry): number {
  let size = entry.Time !== undefined && entry.Time !== null ? 14 : 0;
  for (const field of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (typeof field === 'string') size += Buffer.byteLength(field, 'utf8');
  }
  return size;
}

function isJsonObject(text: string | undefined): boolean {
  if (text === undefined) return true;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** Starts a loopback EventBridge on 127.0.0.1 and a free port. */
export async function startEventBridgeLoopback(
  options: EventBridgeLoopbackOptions = {},
): Promise<EventBridgeLoopback> {
  let plan: FaultPlan = options.faultPlan ?? (() => 'ok');
  const requests: RecordedRequest[] = [];
  const received: LoopbackEntry[] = [];
  const delivered: DeliveredEntry[] = [];
  let requestCount = 0;
  let eventCount = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  const finish = (res: ServerResponse, status: number, body: unknown): void => {
    inFlight -= 1;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': JSON_11,
      'Content-Length': Buffer.byteLength(text),
      'x-amzn-RequestId': `loopback-${requestCount}`,
    });
    res.end(text);
  };
  const destroy = (req: IncomingMessage): void => {
    inFlight -= 1;
    req.socket.destroy();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);

    if (req.method !== 'POST' || req.headers['x-amz-target'] !== TARGET) {
      finish(res, 400, { __type: 'UnknownOperationException', message: `not ${TARGET}` });
      return;
    }
    if (!String(req.headers['content-type'] ?? '').startsWith(JSON_11)) {
      finish(res, 400, { __type: 'SerializationException', message: `Content-Type must be ${JSON_11}` });
      return;
    }
    let entries: LoopbackEntry[];
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Entries?: unknown };
      if (!Array.isArray(body.Entries)) throw new Error('Entries is not an array');
      entries = body.Entries as LoopbackEntry[];
    } catch (error) {
      finish(res, 400, { __type: 'SerializationException', message: String(error) });
      return;
    }
    const index = requestCount;
    requestCount += 1;
    received.push(...entries);

    const record = (fault: LoopbackFault, status: number): void => {
      requests.push({ index, entries, fault, status });
    };
    if (entries.length < 1 || entries.length > MAX_ENTRIES) {
      const fault = { error: 'ValidationException', message: `${entries.length} entries; expected 1 to 10` };
      record(fault, 400);
      finish(res, 400, { __type: fault.error, message: fault.message });
      return;
    }
    const bytes = entries.reduce((sum, entry) => sum + wireEntrySize(entry), 0);
    if (bytes > MAX_BYTES) {
      const fault = {
        error: 'ValidationException',
        message: `Total size of the entries in the request is over the limit.`,
      };
      record(fault, 400);
      finish(res, 400, { __type: fault.error, message: fault.message });
      return;
    }

    const fault = await plan(index, entries);
    if (fault === 'throttle') {
      record(fault, 400);
      finish(res, 400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
      return;
    }
    if (fault === '500') {
      record(fault, 500);
      finish(res, 500, { __type: 'InternalException' });
      return;
    }
    if (fault === 'reset') {
      record(fault, 0);
      destroy(req);
      return;
    }
    if (typeof fault === 'object' && 'error' in fault) {
      const status = fault.status ?? 400;
      record(fault, status);
      finish(res, status, { __type: fault.error, message: fault.message ?? fault.error });
      return;
    }

    const failing = new Set(typeof fault === 'object' ? fault.failIndexes : []);
    const code = (typeof fault === 'object' && fault.code) || 'ThrottlingException';
    const message = (typeof fault === 'object' && fault.message) || `${code} (loopback)`;
    let failed = 0;
    const results = entries.map((entry, position) => {
      if (failing.has(position)) {
        failed += 1;
        return { ErrorCode: code, ErrorMessage: message };
      }
      if (!isJsonObject(entry.Detail)) {
        failed += 1;
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      }
      eventCount += 1;
      const eventId = `loopback-event-${eventCount}`;
      delivered.push({ requestIndex: index, eventId, entry });
      return { EventId: eventId };
    });
    if (fault === 'ackLost') {
      record(fault, 0);
      destroy(req);
      return;
    }
    record(fault, 200);
    finish(res, 200, { FailedEntryCount: failed, Entries: results });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) finish(res, 500, { __type: 'InternalException', message: String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    requests,
    received,
    delivered,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    setFaultPlan(next) {
      plan = next;
    },
    deliveredDetails<T = unknown>(): T[] {
      return delivered.map((d) => JSON.parse(d.entry.Detail ?? 'null') as T);
    },
    createClient(overrides = {}) {
      return new EventBridgeClient({
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIDLOOPBACK', secretAccessKey: 'loopback-secret' },
        maxAttempts: 1,
        ...overrides,
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
