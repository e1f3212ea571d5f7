/**
 * Turns what ioredis throws into tickset's typed errors at the API boundary, so a caller sees "Redis at
 * host:port is unreachable (ECONNREFUSED): retrying may help" instead of a raw socket error or ioredis's
 * MaxRetriesPerRequestError, and a rejected password as a configuration problem that retrying will not fix.
 */
import { ConfigurationError, StoreUnavailableError, TicksetError } from '../errors.js';

/** Socket-level failures, timeouts and ioredis giving up: the server could not be reached or answered. */
const UNREACHABLE =
  /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Command timed out|MaxRetriesPerRequest|max retries per request|Stream isn't writeable|Failed to refresh slots cache|None of startup nodes is available/i;

/** Replies of a server that is up but will not serve this call now: may pass after a failover, a load or a drain. */
const BUSY_REPLY = /^(OOM|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY)\b/;

/** Replies that mean the credentials or the ACL are wrong: retrying the same call cannot help. */
const AUTH_REPLY = /^(NOAUTH|WRONGPASS|NOPERM)\b/;

function messageOf(error: unknown): string {
  return (error as Error | undefined)?.message ?? String(error);
}

/**
 * True for errors that mean "Redis is down, unreachable, refuses our credentials or will not serve us now",
 * as opposed to bad input or a bug.
 */
export function isStoreError(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (error instanceof TicksetError) return false;
  const message = messageOf(error);
  return UNREACHABLE.test(message) || BUSY_REPLY.test(message) || AUTH_REPLY.test(message);
}

/**
 * Maps a Redis failure to a typed error naming the endpoint (never its password). Other errors, including
 * tickset's own, pass through unchanged.
 *
 * @param endpoint where the client points, e.g. `127.0.0.1:6379` (no credentials)
 * @param lastConnectionError the last `error` event of the client: the reason behind ioredis's generic
 *   "Connection is closed" or MaxRetriesPerRequestError
 */
export function toStoreError(error: unknown, endpoint: string, lastConnectionError?: Error): unknown {
  if (error instanceof TicksetError || !(error instanceof Error)) return error;
  const message = error.message;
  if (AUTH_REPLY.test(message)) {
    return new ConfigurationError(
      `Redis at ${endpoint} refused this client (${message.split('\n')[0]}): check the user name and the ` +
        'password or auth token (URL, TICKSET_REDIS_USERNAME, TICKSET_REDIS_AUTH_SECRET_ARN) and the ACL. ' +
        'Retrying will not help.',
      { cause: error },
    );
  }
  if (UNREACHABLE.test(message) || BUSY_REPLY.test(message)) {
    const reason = BUSY_REPLY.test(message)
      ? message.split('\n')[0]
      : (lastConnectionError?.message ?? message).split('\n')[0];
    return new StoreUnavailableError(
      `Redis at ${endpoint} is unavailable (${reason}). Retrying may help; a write that was already sent ` +
        'may or may not have been applied, so give jobs a key to make a retry an upsert.',
      error,
    );
  }
  return error;
}
