/** Tick Lambda entry: adapts the EventBridge scheduled event and runs the core tick loop. */
export { handler } from '../../src/tick/lambda.js';
