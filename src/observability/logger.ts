/**
 * Structured logs through Powertools Logger. Payloads are never logged unless TICKSET_LOG_PAYLOADS=true;
 * Redis URLs are logged without credentials.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { ENV } from '../config/env.js';

export type TicksetLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export function createLogger(serviceName: string, level?: string): Logger {
  const logLevel = (level ?? process.env[ENV.logLevel] ?? 'INFO').toUpperCase() as 'INFO';
  return new Logger({ serviceName, logLevel });
}

/** A logger that drops everything (local runtime default, tests). */
export const silentLogger: TicksetLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** `redis://user:secret@host` → `redis://***@host`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
