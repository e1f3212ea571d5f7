/**
 * Typed errors. Every error has a stable `name`, says what was wrong and what was expected, and whether
 * retrying the same call can help (`retryable`).
 */

export interface TicksetErrorOptions {
  readonly cause?: unknown;
  readonly retryable?: boolean;
}

/** Base class of every error tickset throws on purpose. */
export class TicksetError extends Error {
  override readonly name: string = 'TicksetError';
  /** True when the same call may succeed later (e.g. Redis unavailable); false for bad input. */
  readonly retryable: boolean;

  constructor(message: string, options: TicksetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Bad input at the API boundary: names the field, the value received and what was expected. Not retryable. */
export class ValidationError extends TicksetError {
  override readonly name: string = 'TicksetValidationError';
  readonly field: string;
  readonly value: string;
  readonly expected: string;

  constructor(field: string, value: unknown, expected: string, options: TicksetErrorOptions = {}) {
    const shown = describe(value);
    super(`Invalid ${field}: got ${shown}; expected ${expected}. Fix the input: retrying will not help.`, {
      ...options,
      retryable: false,
    });
    this.field = field;
    this.value = shown;
    this.expected = expected;
  }
}

/** A handler name that the scheduler was not configured with (`handlers` option / TICKSET_HANDLERS). */
export class UnknownHandlerError extends ValidationError {
  override readonly name: string = 'TicksetUnknownHandlerError';
  constructor(field: string, handler: string, known: readonly string[]) {
    super(field, handler, `one of the known handlers: ${known.join(', ')}`);
  }
}

/** The key already belongs to a job of another handler; upserts cannot move a job between handlers. */
export class KeyHandlerConflictError extends TicksetError {
  override readonly name: string = 'TicksetKeyHandlerConflictError';
  readonly key: string;
  readonly existingHandler: string;
  readonly requestedHandler: string;
  constructor(key: string, existingHandler: string, requestedHandler: string) {
    super(
      `Key ${JSON.stringify(key)} already belongs to a job of handler "${existingHandler}", not "${requestedHandler}". ` +
        'Cancel it first or use another key: retrying will not help.',
    );
    this.key = key;
    this.existingHandler = existingHandler;
    this.requestedHandler = requestedHandler;
  }
}

/**
 * New job ids kept colliding with existing jobs (ids are 14 characters: see `src/core/ids.ts`), after
 * retries with other ids. Nothing was written; retrying the call may help.
 */
export class IdCollisionError extends TicksetError {
  override readonly name: string = 'TicksetIdCollisionError';
  /** The ids of the last attempt that were already jobs. */
  readonly ids: readonly string[];
  constructor(ids: readonly string[], attempts: number) {
    super(
      `New job ids collided with existing jobs ${attempts} times in a row (last: ${ids.slice(0, 5).join(', ')}); ` +
        'nothing was written. Retry the call.',
      { retryable: true },
    );
    this.ids = ids;
  }
}

/** Wrong or missing configuration (environment, connection options). */
export class ConfigurationError extends TicksetError {
  override readonly name: string = 'TicksetConfigurationError';
}

/** Redis refused the credentials (`WRONGPASS`, `NOAUTH`, `NOPERM`): fix the user, password or ACL. */
export class AuthenticationError extends ConfigurationError {
  override readonly name: string = 'TicksetAuthenticationError';
}

/** Something other than Redis answers on that host and port (an HTTP server, say): fix the URL. */
export class NotRedisError extends ConfigurationError {
  override readonly name: string = 'TicksetNotRedisError';
}

/** The host name of the Redis URL does not resolve (`ENOTFOUND`): fix the URL. */
export class HostNotFoundError extends ConfigurationError {
  override readonly name: string = 'TicksetHostNotFoundError';
}

/** Redis could not be reached or answered with an error; retrying may help. */
export class StoreUnavailableError extends TicksetError {
  override readonly name: string = 'TicksetStoreUnavailableError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause, retryable: true });
  }
}

/** An event handed to `taskHandler` is not a tickset task event. */
export class MalformedEventError extends TicksetError {
  override readonly name: string = 'TicksetMalformedEventError';
  readonly field: string;
  constructor(field: string, expected: string, got: unknown) {
    super(
      `Malformed task event: ${field} is ${describe(got)}; expected ${expected}. ` +
        'The event was not produced by a tickset tick (check the EventBridge rule pattern): retrying will not help.',
    );
    this.field = field;
  }
}
