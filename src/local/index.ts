/** `import { startLocal } from 'tickset/local'`. */

export { LocalPublisher } from './local-publisher.js';
export { type LocalOptions, type LocalRuntime, startLocal } from './start-local.js';
