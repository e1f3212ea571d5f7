/**
 * The stored job body. Every byte is paid once per scheduled job (see BENCHMARKS.md, bytes per job), so
 * defaults are omitted and the handler is a short code. Lua decodes only the header, never the payload.
 *
 * Format 2 (written): `"2"` + handler code + optional JSON object of the other non-default header fields +
 * `"\n"` + payload JSON. The code is base 36 (`[0-9a-z]`), assigned per shard by `schedule.lua` (the
 * `handlerCodes` / `handlerNames` keys); a body without a code (a format-1 body rewritten by Lua) has the
 * handler name as `h` in its JSON. `r` absent means the due time in the id (`idTimeOf`), `r: -1` a cron
 * series left unarmed, `v` absent revision 0. A plain one-off job with a 100-byte payload is 103 bytes.
 *
 * Format 1 (still read): `"1"` + header JSON (with `h`, `r` unless unarmed, and `v`) + `"\n"` + payload JSON.
 */
import { idTimeOf } from './ids.js';
import type { JsonValue } from './types.js';

export const DEFAULT_MAX_ATTEMPTS = 3;

/** Backoff as stored: kind (`f` fixed, `e` exponential), base delay ms, cap ms. */
export type StoredBackoff = readonly ['f' | 'e', number, number];

/** `r` in a format-2 body of a cron series that a claim left unarmed. */
const UNARMED = -1;

export interface JobHeader {
  /** Handler name (in a format-2 body: its code, resolved by the engine). */
  readonly h: string;
  /** Due time of the pending occurrence (absent: a cron series waiting for Node to arm it). */
  readonly r?: number;
  /** Revision: 0 for a fresh job, a new one from the shard's `seq` on every upsert and replay. */
  readonly v: number;
  /** maxAttempts (absent: 3). */
  readonly m?: number;
  /** expiresAt ms (absent: never). */
  readonly x?: number;
  /** Priority (absent: 0). */
  readonly p?: number;
  /** Backoff (absent: exponential 1 s, capped at 5 min). */
  readonly b?: StoredBackoff;
  /** everyMs of an interval series. */
  readonly e?: number;
  /** Cron expression of a cron series. */
  readonly c?: string;
  /** IANA time zone of a cron series (absent: UTC). */
  readonly z?: string;
  /** Precomputed occurrence after `r` (cron series; Lua arms it at claim time). */
  readonly n?: number;
  /** Last fired occurrence of a series. */
  readonly l?: number;
  /** When a claim left this cron series unarmed: Node arms the first occurrence after it. */
  readonly a?: number;
  /** User key. */
  readonly k?: string;
  /** Series id, on an occurrence. */
  readonly s?: string;
  /** Occurrence time, on an occurrence. */
  readonly o?: number;
}

export interface DecodedJob {
  readonly header: JobHeader;
  readonly payloadJson: string;
  /**
   * The handler as the body stores it: its code in a format-2 body, else its name. Scripts that check that
   * a body still belongs to the handler Node read (cancel, replay-dead) compare this.
   */
  readonly handlerRef: string;
}

/**
 * The header fields `schedule.lua` writes for a fresh job, as a JSON object or `""`: all but `h` (Lua writes
 * the handler's code), `v` (Lua adds a revision on an upsert) and `r` when the id carries it.
 */
export function encodeScheduleExtras(id: string, header: Omit<JobHeader, 'v'>): string {
  const omitR = header.r === idTimeOf(id);
  let json = '';
  for (const name in header) {
    if (name === 'h' || (name === 'r' && omitR)) continue;
    const value = header[name as keyof typeof header];
    if (value === undefined) continue;
    json += `${json === '' ? '{' : ','}"${name}":${JSON.stringify(value)}`;
  }
  return json === '' ? '' : `${json}}`;
}

/** The handler code of a format-2 body, or undefined (format 1, or a body that names its handler). */
export function handlerCodeOf(body: string): string | undefined {
  if (body.charCodeAt(0) !== 50) return undefined;
  let end = 1;
  for (;;) {
    const c = body.charCodeAt(end);
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 122)) end++;
    else break;
  }
  return end === 1 ? undefined : body.slice(1, end);
}

/**
 * Decodes a body of job `id` (format 1 or 2). `handlerName` resolves a format-2 handler code (see
 * `Engine.handlerNames`); an unknown code throws.
 */
export function decodeBody(
  id: string,
  body: string,
  handlerName: (code: string) => string | undefined = () => undefined,
): DecodedJob {
  const version = body.charCodeAt(0) - 48;
  const nl = body.indexOf('\n');
  const payloadJson = body.slice(nl + 1);
  if (version === 1) {
    const header = JSON.parse(body.slice(1, nl)) as JobHeader;
    return { header, payloadJson, handlerRef: header.h };
  }
  if (version !== 2) {
    throw new Error(`stored job format ${body[0]} is not supported by this tickset (expects 1 or 2)`);
  }
  const code = handlerCodeOf(body);
  const jsonStart = 1 + (code?.length ?? 0);
  const fields = (jsonStart < nl ? JSON.parse(body.slice(jsonStart, nl)) : {}) as {
    -readonly [K in keyof JobHeader]?: JobHeader[K];
  };
  if (code !== undefined) {
    const name = handlerName(code);
    if (name === undefined)
      throw new Error(`job ${id} has handler code ${code}, which this shard does not know`);
    fields.h = name;
  }
  if (fields.r === undefined) fields.r = idTimeOf(id);
  else if (fields.r === UNARMED) delete fields.r;
  fields.v ??= 0;
  return { header: fields as JobHeader, payloadJson, handlerRef: code ?? fields.h! };
}

export function parsePayload(payloadJson: string): JsonValue {
  return JSON.parse(payloadJson) as JsonValue;
}

/** Same on every delivery of one occurrence; changes with the occurrence and with the revision. */
export function idempotencyKeyOf(id: string, header: JobHeader): string {
  const series = header.s ?? id;
  const occurrence = header.o ?? header.r ?? 0;
  return `${series}:${occurrence}:${header.v}`;
}

export interface ClaimState {
  readonly attempt: number;
  readonly token: string;
  readonly reason: string;
  readonly error: string;
}

/** Parses the `state` hash value "attempt|token|reason|error". */
export function parseState(raw: string | null | undefined): ClaimState {
  if (!raw) return { attempt: 0, token: '', reason: '', error: '' };
  const [attempt = '0', token = '', reason = '', ...rest] = raw.split('|');
  return { attempt: Number(attempt), token, reason, error: rest.join('|') };
}

/**
 * The attempt of a job in flight, from its `state` value: none is its first claim, which writes no state
 * (claim.lua), so attempt 1. Node's twin of `inflight_attempt` in includes/inflight-attempt.lua.
 */
export function inflightAttempt(raw: string | null | undefined): number {
  return raw === null || raw === undefined ? 1 : parseState(raw).attempt;
}
