/**
 * tickset's CDK constructs: `import { ScheduledTasks, TicksetFunction } from 'tickset/infra'`.
 */
export type { TicksetAlarmOptions } from './alarms.js';
export { TicksetAlarms } from './alarms.js';
export type {
  CacheOptions,
  ElastiCacheOptions,
  ElastiCacheServerlessOptions,
  ExistingCacheOptions,
  MemoryDbOptions,
} from './cache.js';
export { TicksetCache } from './cache.js';
export { TicksetDashboard } from './dashboard.js';
export { TICKSET_FUNCTION_DEFAULTS, TicksetFunction, type TicksetFunctionProps } from './function.js';
export {
  type AddHandlerOptions,
  type HandlerBatchOptions,
  type HandlerRateLimit,
  HandlerRoute,
  validateHandlerName,
} from './handler-route.js';
export { METRIC_SERVICES, type MetricEmitter, type TicksetMetricName, TicksetMetrics } from './metrics.js';
export { TicksetNetwork, type TicksetNetworkProps } from './network.js';
export type { ScheduledTasksProps } from './props.js';
export { ScheduledTasks } from './scheduled-tasks.js';
export { type Precision, Tick, type TickProps } from './tick.js';
