/**
 * The stored job body (format version 1): `"1"` + header JSON + `"\n"` + payload JSON.
 *
 * The header uses one-letter fields and omits defaults, because every byte is paid once per scheduled job
 * (see BENCHMARKS.md, bytes per job). Lua decodes only the header, never the payload.
 */
import { STORED_FORMAT_VERSION } from './keys.js';
import type { JsonValue } from './types.js';

export const DEFAULT_MAX_ATTEMPTS = 3;

/** Backoff as stored: kind (`f` fixed, `e` exponential), base delay ms, cap ms. */
export type StoredBackoff = readonly ['f' | 'e', number, number];

export interface JobHeader {
  /** Handler name. */
  readonly h: string;
  /** Due time of the pending occurrence (absent: a cron series waiting for Node to arm it). */
  readonly r?: number;
  /** Revision: a new one on every (re)schedule and replay. */
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
}

/** The header as sent to `schedule.lua`: without `v` (Lua assigns the revision) and without `}`. */
export function encodeHeaderOpen(header: Omit<JobHeader, 'v'>): string {
  const json = JSON.stringify(header);
  return `${STORED_FORMAT_VERSION}${json.slice(0, -1)}`;
}

export function decodeBody(body: string): DecodedJob {
  const version = body.charCodeAt(0) - 48;
  if (version !== STORED_FORMAT_VERSION) {
    throw new Error(
      `stored job format ${body[0]} is not supported by this tickset (expects ${STORED_FORMAT_VERSION})`,
    );
  }
  const nl = body.indexOf('\n');
  return { header: JSON.parse(body.slice(1, nl)) as JobHeader, payloadJson: body.slice(nl + 1) };
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
