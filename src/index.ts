/** tickset producer API: `import { Scheduler } from 'tickset'`. */
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  type ScheduleResult,
  Scheduler,
  type SchedulerOptions,
} from './client/scheduler.js';
export {
  type ClaimSpec,
  Engine,
  type EngineOptions,
  type HandlerLimits,
  type StaleStartReason,
  type TaskRef,
} from './core/engine.js';
export type { HandlerStats, JobInfo, JobState, Stats } from './core/inspect.js';
export type { BackoffOptions, ScheduleOptions } from './core/prepare.js';
export type { DeadResult, DeadSelector } from './core/store/admin.js';
export type { JsonValue, Publisher, PublishFailure, PublishResult, TaskEventDetail } from './core/types.js';
export * from './errors.js';
export { type ConnectOptions, connect, connectFromEnv, type RedisClient } from './redis/connection.js';
export {
  connectWithIam,
  type IamConnection,
  type IamConnectOptions,
  iamConnector,
  startIamReauthentication,
} from './redis/iam-auth.js';
export { type IamAuthTokenOptions, type IamAuthTokenSigner, iamAuthTokenSigner } from './redis/iam-token.js';
