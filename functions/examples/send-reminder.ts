/**
 * Example handler `send-reminder`: tells a user about something at the time a producer chose.
 *
 * `taskHandler` dedupes on `task.idempotencyKey`, acks on return and records a failure (retry with backoff,
 * then the dead set) on a throw. Pass the idempotency key on to whatever sends the message, so that the one
 * window the wrapper cannot close (a crash after sending, before the record is saved) cannot send twice.
 */
import { taskHandler } from 'tickset/handler';

export interface ReminderPayload {
  readonly userId: number;
  readonly message?: string;
}

export const handler = taskHandler<{ readonly notified: number }, ReminderPayload>(
  async (task) => {
    const { userId, message = 'You have a reminder' } = task.payload;
    if (!Number.isInteger(userId))
      throw new Error(`payload.userId must be an integer, got ${String(userId)}`);
    // Replace with your notification service, e.g. SES / SNS / a push API, passing task.idempotencyKey.
    console.log(
      JSON.stringify({
        level: 'INFO',
        message: 'reminder sent',
        userId,
        text: message,
        scheduledFor: task.scheduledFor.toISOString(),
        attempt: task.attempt,
        idempotencyKey: task.idempotencyKey,
      }),
    );
    return { notified: userId };
  },
  { handler: 'send-reminder' },
);
