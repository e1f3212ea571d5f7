/**
 * How the CLI fails: one line on stderr and an exit code that scripts can branch on.
 *
 *   1  usage or validation error (bad flag, bad duration, unknown job): fix the command line
 *   2  Redis unreachable (nothing listening, no answer, connection dropped, TLS on one side only):
 *      retrying may help once the endpoint, network or TLS setting is fixed
 *   3  configuration: Redis refused the credentials, the port does not speak Redis, the host name does
 *      not resolve: retrying will not help
 */
export const EXIT = {
  ok: 0,
  usage: 1,
  unreachable: 2,
  configuration: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as `tickset: <message>` with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'TicksetCliError';
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.usage, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A bad flag value: `invalid --in "abc": expected a duration such as 30s, 5m or 1h30m`. */
export function invalidOption(flag: string, value: unknown, expected: string): CliError {
  return new CliError(`invalid ${flag} ${JSON.stringify(value)}: expected ${expected}`);
}
