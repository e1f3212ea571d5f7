/** Handler `send-digest`: a recurring job (cron) per user; rate-limited in the stack. */
import { taskHandler } from 'tickset/handler';

interface Digest {
  readonly userId: number;
}

export const handler = taskHandler<{ readonly items: number }, Digest>(async (task) => {
  console.log(JSON.stringify({ message: 'digest sent', userId: task.payload.userId, attempt: task.attempt }));
  return { items: 0 };
});
