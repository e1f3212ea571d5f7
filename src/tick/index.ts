/**
 * `tickset/tick`: the tick loop, for running the tick in a process of your own (a container, a test) with
 * any `Publisher`; the Lambda entry (`functions/tick`) and `startLocal` use the same class.
 */
export type { CapacityAware, PassStats, Precision, TickLoopOptions } from './loop.js';
export { TickLoop } from './loop.js';
