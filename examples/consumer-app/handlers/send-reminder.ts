/** Handler `send-reminder`: runs once per due reminder; a throw retries it with backoff. */
import { taskHandler } from 'tickset/handler';

interface Reminder {
  readonly userId: number;
  readonly text?: string;
}

export const handler = taskHandler<void, Reminder>(async (task) => {
  if (!Number.isInteger(task.payload.userId)) throw new Error('payload.userId must be an integer');
  console.log(
    JSON.stringify({ message: 'reminder sent', userId: task.payload.userId, key: task.idempotencyKey }),
  );
});
