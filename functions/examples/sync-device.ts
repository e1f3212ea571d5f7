/**
 * Example handler `sync-device`: calls a third-party device API (this is why handlers run in private
 * subnets with egress through a NAT gateway). The sample stack rate-limits it to 5 starts per second and
 * 20 in flight, so a burst of due syncs never floods the partner.
 *
 * A non-2xx answer throws: tickset retries the task with backoff, then dead-letters it
 * (`tickset list --state dead --handler sync-device`). The `Idempotency-Key` header lets the partner drop a
 * repeated delivery of the same occurrence.
 */
import { taskHandler } from 'tickset/handler';

export interface SyncPayload {
  readonly deviceId: string;
}

/** Base URL of the device API; without it the handler only logs (the sample deploys without a partner). */
const API_URL = process.env.DEVICE_API_URL;

export const handler = taskHandler<{ readonly status: number }, SyncPayload>(
  async (task) => {
    const { deviceId } = task.payload;
    if (typeof deviceId !== 'string' || deviceId.length === 0) {
      throw new Error('payload.deviceId must be a non-empty string');
    }
    if (!API_URL) {
      console.log(
        JSON.stringify({ level: 'INFO', message: 'sync skipped: DEVICE_API_URL not set', deviceId }),
      );
      return { status: 0 };
    }
    const response = await fetch(`${API_URL}/devices/${encodeURIComponent(deviceId)}/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': task.idempotencyKey },
      body: JSON.stringify({ scheduledFor: task.scheduledFor.toISOString() }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`device API answered HTTP ${response.status} ${response.statusText}`);
    return { status: response.status };
  },
  { handler: 'sync-device' },
);
