/**
 * Turns what ioredis throws into tickset's typed errors at the API boundary, so a caller sees "Redis at
 * host:port is unreachable (ECONNREFUSED): retrying may help" instead of a raw socket error or ioredis's
 * MaxRetriesPerRequestError, and a rejected password as a configuration problem that retrying will not fix.
 */
import {
  AuthenticationError,
  HostNotFoundError,
  NotRedisError,
  StoreUnavailableError,
  TicksetError,
} from '../errors.js';

/** Socket-level failures, timeouts and ioredis giving up: the server could not be reached or answered. */
const UNREACHABLE =
  /Connection is closed|Protocol error, got|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Command timed out|MaxRetriesPerRequest|max retries per request|Stream isn't writeable|Failed to refresh slots cache|None of startup nodes is available/i;

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
 * @param tls whether the client uses TLS (`usesTls`), for the one-sided TLS hint
 */
export function toStoreError(
  error: unknown,
  endpoint: string,
  lastConnectionError?: Error,
  tls?: boolean,
): unknown {
  if (error instanceof TicksetError || !(error instanceof Error)) return error;
  const message = error.message;
  if (AUTH_REPLY.test(message)) return connectionFailure(error, endpoint);
  if (UNREACHABLE.test(message) || BUSY_REPLY.test(message)) {
    if (BUSY_REPLY.test(message)) {
      return new StoreUnavailableError(
        `Redis at ${endpoint} is unavailable (${message.split('\n')[0]}). ${RETRY_ADVICE}`,
        error,
      );
    }
    const failure = connectionFailure(lastConnectionError ?? error, endpoint, tls);
    if (!(failure instanceof StoreUnavailableError)) {
      // Keep what the caller's command failed with as the cause; the connection's reason is in the message.
      return new (failure.constructor as typeof NotRedisError)(failure.message, { cause: error });
    }
    return new StoreUnavailableError(`${failure.message}. ${RETRY_ADVICE}`, error);
  }
  return error;
}

const RETRY_ADVICE =
  'Retrying may help; a write that was already sent may or may not have been applied, so give jobs a key to ' +
  'make a retry an upsert.';

/**
 * Names what went wrong when a connection to Redis failed, from the error of the socket or of the first
 * reply. Configuration problems that retrying cannot fix are ConfigurationError subclasses:
 * AuthenticationError (`WRONGPASS`, `NOAUTH`, `NOPERM`), NotRedisError (the reply is not the Redis protocol:
 * an HTTP server answers `H`), HostNotFoundError (`ENOTFOUND`). Everything else is a StoreUnavailableError:
 * nothing listening (`ECONNREFUSED`), TLS on one side only (the handshake of a `rediss://` client with a plain
 * server never completes; a TLS server closes a plain client's connection), timeouts. `cause` is the error.
 *
 * @param where the endpoint for the message, never with credentials (`host:port`, or a redacted URL)
 * @param tls whether the client used TLS, when known: sharpens the hint for one-sided TLS
 */
export function connectionFailure(cause: Error, where: string, tls?: boolean): TicksetError {
  const reason = cause.message.split('\n')[0] ?? '';
  if (AUTH_REPLY.test(reason)) {
    return new AuthenticationError(
      `Redis at ${where} refused this client (${reason}): check the user name and the password or auth token ` +
        '(URL, TICKSET_REDIS_USERNAME, TICKSET_REDIS_AUTH_SECRET_ARN) and the ACL. Retrying will not help.',
      { cause },
    );
  }
  const protocol = /Protocol error, got "([^"]*)" as reply type byte/.exec(reason);
  if (protocol) {
    return new NotRedisError(
      `${where} does not speak the Redis protocol (its reply began with ${JSON.stringify(protocol[1])}` +
        `${protocol[1] === 'H' || protocol[1] === '<' ? ', like an HTTP server' : ''}): check the host and port.`,
      { cause },
    );
  }
  if (/\bENOTFOUND\b/.test(reason)) {
    return new HostNotFoundError(
      `the host name of ${where} does not resolve (${reason}): check the host in the URL.`,
      { cause },
    );
  }
  if (/\bECONNREFUSED\b/.test(reason)) {
    return new StoreUnavailableError(
      `nothing listens at ${where} (${reason}): start Redis there or fix the port`,
      cause,
    );
  }
  if (tls === true && /\bETIMEDOUT\b|no answer within/.test(reason)) {
    return new StoreUnavailableError(
      `no TLS handshake with ${where} (${reason}): if this Redis does not use TLS, use redis:// instead of ` +
        'rediss:// (and unset TICKSET_REDIS_TLS); otherwise the host does not answer',
      cause,
    );
  }
  if (tls === false && /\bECONNRESET\b|Connection is closed/.test(reason)) {
    return new StoreUnavailableError(
      `Redis at ${where} closed the connection (${reason}): if it expects TLS, use rediss:// or set ` +
        'TICKSET_REDIS_TLS=true',
      cause,
    );
  }
  return new StoreUnavailableError(`Redis at ${where} is unavailable (${reason})`, cause);
}
