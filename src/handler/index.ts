/** `import { taskHandler } from 'tickset/handler'`. */

export { MalformedEventError } from '../errors.js';
export { parseTaskEvent } from './event.js';
export { ioredisCacheClient } from './idempotency.js';
export { type Task, type TaskHandlerOptions, type TaskOutcome, taskHandler } from './task-handler.js';
